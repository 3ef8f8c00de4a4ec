/**
 * Compensation: when a rollout fails, is aborted or is cancelled, all traffic goes back to
 * stable first, then the registry marks the candidate rolled back. Workflow-safe.
 */
import { ApplicationFailure, CancellationScope } from '@temporalio/workflow';
import { control, type CanaryContext } from './context';
import { notifyParent } from './parent';
import type { CanaryComparison } from '../../contracts/temporal';
import { FAILURE, type FailureType } from '../../contracts/failures';

/** Rolls back, closes an open gate with the pipeline, and fails the rollout with `type`. */
export async function rollBack(
  ctx: CanaryContext,
  reason: string,
  type: FailureType,
  comparison?: CanaryComparison,
): Promise<never> {
  const { input, state, candidate, stable } = ctx;
  const { status } = state;
  await control.applyDeployment({ model: input.modelName, stable });
  await control.setModelVersionStatus({
    model: input.modelName,
    version: candidate.version,
    status: 'rolled-back',
    note: reason,
  });
  const gateWasOpen = status.phase === 'awaiting-approval';
  status.phase = type === FAILURE.RolloutAborted ? 'aborted' : 'rolled-back';
  status.weight = 0;
  ctx.showDetails();
  if (gateWasOpen)
    await notifyParent(ctx, 'closed', state.gateDecision ? { decision: state.gateDecision } : {});
  throw ApplicationFailure.create({
    nonRetryable: true,
    type,
    message: reason,
    details: comparison ? [comparison] : [],
  });
}

/** After cancellation (the pipeline was cancelled or timed out): never leave traffic split. */
export async function restoreStableOnCancel({
  input,
  state,
  candidate,
  stable,
}: CanaryContext): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    await control.applyDeployment({ model: input.modelName, stable });
    await control.setModelVersionStatus({
      model: input.modelName,
      version: candidate.version,
      status: 'rolled-back',
      note: 'rollout cancelled',
    });
  });
  state.status.phase = 'aborted';
  state.status.weight = 0;
}
