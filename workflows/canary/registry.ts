/**
 * The registry moves at either end of a rollout, made inside the model's deployment lock: who
 * is stable when it starts, and the candidate taking over when it ends. Workflow-safe.
 */
import { ApplicationFailure, CancellationScope } from '@temporalio/workflow';
import { control, type ModelRef, type RolloutContext } from './context';
import type { RolloutResult } from '../../contracts/temporal';
import { FAILURE } from '../../contracts/failures';

/**
 * Marks the candidate `canary` and returns the version it is compared with (and falls back to),
 * or undefined for a model's first version; throws `Superseded` when production is newer.
 */
export async function claimCanary({ input, candidate }: RolloutContext): Promise<ModelRef | undefined> {
  const { modelName } = input;
  // Production is read here, inside the deployment lock: hours may have passed since the
  // pipeline evaluated, and the canary must compare with (and fall back to) what serves now.
  const production = await control.getProductionVersion({ model: modelName });
  // Approved pipelines queue for the lock in no particular order: an older candidate must never
  // replace a newer version that reached production first.
  if (production && Number(production.version) > Number(candidate.version)) {
    throw ApplicationFailure.create({
      nonRetryable: true,
      type: FAILURE.Superseded,
      message: `v${candidate.version} is older than v${production.version}, which reached production first; not deployed`,
    });
  }
  let stable: ModelRef | undefined;
  if (production && production.version !== candidate.version)
    stable = { version: production.version, modelUri: production.modelUri };
  await control.setModelVersionStatus({ model: modelName, version: candidate.version, status: 'canary' });
  return stable;
}

/** Registry and traffic when the candidate takes over; `stable`, if any, is archived. */
export function promoteCandidate(
  { input, state, candidate }: RolloutContext,
  stable: ModelRef | undefined,
  by: string,
  reason: string,
): Promise<RolloutResult> {
  const { modelName } = input;
  const { status } = state;
  // A commit point: once traffic moves, the registry must follow even if cancellation arrives.
  return CancellationScope.nonCancellable(async () => {
    await control.applyDeployment({ model: modelName, stable: candidate });
    await control.setProductionAlias({ model: modelName, version: candidate.version, by, reason });
    await control.setModelVersionStatus({
      model: modelName,
      version: candidate.version,
      status: 'production',
      by,
      note: reason,
    });
    if (stable) {
      await control.setModelVersionStatus({
        model: modelName,
        version: stable.version,
        status: 'archived',
        note: `replaced by v${candidate.version}`,
        onlyFrom: ['production'],
      });
    }
    status.phase = 'promoted';
    status.weight = 100;
    status.live = undefined;
    const { promoteRequested, gateDecision } = state;
    return {
      outcome: 'promoted',
      comparisons: status.comparisons,
      ...(promoteRequested ? { promotedBy: promoteRequested } : {}),
      ...(stable ? { replacedVersion: stable.version } : {}),
      ...(gateDecision ? { fullTrafficDecision: gateDecision } : {}),
    };
  });
}
