/**
 * The full-traffic gate: hold at the last partial weight, still analysed, until a person decides
 * (through the pipeline, or by signalling the rollout) or the deadline decides for them. The
 * decision is recorded in the registry; a refusal rolls back. Workflow-safe.
 */
import { condition } from '@temporalio/workflow';
import { analyse, checkAbort } from './checks';
import { rollBack } from './compensation';
import { control, PAUSED_ANALYSIS_INTERVAL_MS, type CanaryContext } from './context';
import { maybeContinueAsNew } from './continue-as-new';
import { notifyParent } from './parent';
import { FAILURE } from '../../contracts/failures';

/** With input.fullTrafficGate and no decision yet, holds until there is one; returns if approved. */
export async function holdAtFullTrafficGate(ctx: CanaryContext): Promise<void> {
  const { input, state, candidate, stable } = ctx;
  const { modelName } = input;
  const { status } = state;
  const intervalMs = input.rollout.analysisIntervalSeconds * 1000;
  const gate = input.fullTrafficGate;
  const firstPartial = input.rollout.steps.find((step) => step.weight < 100);
  if (!gate || !firstPartial || state.gateDecision) return;
  if (status.phase !== 'awaiting-approval') {
    if (status.weight === 0) {
      // Promoted before the first step: the gate still holds, at the first partial weight.
      status.step = 1;
      status.weight = firstPartial.weight;
      await control.applyDeployment({
        model: modelName,
        stable,
        canary: { ...candidate, weight: firstPartial.weight },
      });
    }
    status.phase = 'awaiting-approval';
    status.gate = { deadline: new Date(Date.now() + gate.timeoutHours * 3_600_000).toISOString() };
    state.baseline = await control.snapshotTraffic({ model: modelName });
    await notifyParent(ctx, 'waiting', { deadline: status.gate.deadline });
  }
  ctx.showDetails();
  const deadlineMs = new Date(status.gate!.deadline).getTime();
  // Read from state on every test, never copied: a handler may decide while the loop awaits.
  while (!state.gateDecision) {
    await checkAbort(ctx);
    await maybeContinueAsNew(ctx);
    const left = deadlineMs - Date.now();
    if (left <= 0) {
      state.gateDecision = {
        kind: gate.timeoutOutcome === 'approve' ? 'approved' : 'rejected',
        by: 'approval timeout',
        note: `no decision within ${gate.timeoutHours}h (approval.timeoutOutcome=${gate.timeoutOutcome})`,
        at: new Date().toISOString(),
        timedOut: true,
      };
      break;
    }
    await condition(
      () => state.abortRequested !== undefined || state.gateDecision !== undefined,
      Math.min(left, Math.max(intervalMs, PAUSED_ANALYSIS_INTERVAL_MS)),
    );
    await checkAbort(ctx);
    if (state.gateDecision) break;
    await analyse(ctx, 0);
    ctx.showDetails();
  }
  const gateDecision = state.gateDecision;
  status.gate!.decision = gateDecision;
  await control.recordApproval({
    model: modelName,
    version: candidate.version,
    approval: {
      decision: gateDecision.timedOut && gateDecision.kind === 'rejected' ? 'timed-out' : gateDecision.kind,
      by: gateDecision.by,
      at: gateDecision.at,
      gate: 'full-traffic',
      ...(gateDecision.note ? { note: gateDecision.note } : {}),
    },
  });
  if (gateDecision.kind === 'rejected') {
    // rollBack tells the pipeline the gate closed, with this decision.
    return await rollBack(
      ctx,
      `full traffic for v${candidate.version} was refused by ${gateDecision.by}${gateDecision.note ? `: ${gateDecision.note}` : ''}`,
      FAILURE.RolloutAborted,
      status.live,
    );
  }
  await notifyParent(ctx, 'closed', { decision: gateDecision });
}
