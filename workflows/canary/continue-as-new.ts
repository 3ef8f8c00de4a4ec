/**
 * A long pause or full-traffic gate is analysed every interval, and each tick adds events: past
 * a size the rollout continues as new, carrying every bit of its state. Workflow-safe.
 */
import { allHandlersFinished, condition, continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { CanaryContext, RolloutCarry } from './context';
import type { canaryRollout } from './canary-rollout';

/** Each analysis tick adds about ten events; a new run keeps a long hold's history small. */
const CONTINUE_AS_NEW_AFTER_EVENTS = 5_000;

/** What the next run needs to carry on exactly where this one is. */
export function rolloutCarry({ state, stable }: CanaryContext): RolloutCarry {
  const { promoteRequested, abortRequested } = state;
  return {
    status: state.status,
    stable,
    stepIndex: state.stepIndex,
    bakedMs: state.bakedMs,
    baseline: state.baseline!,
    paused: state.paused,
    ...(promoteRequested ? { promoteRequested } : {}),
    ...(abortRequested ? { abortRequested } : {}),
  };
}

/** Continues as new when the history grows long, unless an abort is about to end the run. */
export async function maybeContinueAsNew(ctx: CanaryContext): Promise<void> {
  if (workflowInfo().historyLength < CONTINUE_AS_NEW_AFTER_EVENTS || ctx.state.abortRequested) return;
  await condition(allHandlersFinished);
  await continueAsNew<typeof canaryRollout>({ ...ctx.input, carry: rolloutCarry(ctx) });
}
