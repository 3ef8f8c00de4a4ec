/**
 * The step loop: shift the canary to each partial weight, then bake it there, analysed every
 * interval, until it has passed for the step's bake time. Pausing holds the weight (analysis goes
 * on, less often); promote skips ahead; abort, a regression or too little traffic rolls back.
 * Workflow-safe.
 */
import { analyse, checkAbort } from './checks';
import { rollBack } from './compensation';
import { control, untilNextAnalysis, where, type CanaryContext } from './context';
import { maybeContinueAsNew } from './continue-as-new';
import { FAILURE } from '../../contracts/failures';

/** Bakes each partial step in turn; returns at 100%, at the full-traffic gate or when promoted. */
export async function bakeSteps(ctx: CanaryContext): Promise<void> {
  const { input, state, candidate, stable } = ctx;
  const { modelName } = input;
  const { status } = state;
  const intervalMs = input.rollout.analysisIntervalSeconds * 1000;
  const steps = input.rollout.steps;
  for (; state.stepIndex < steps.length; state.stepIndex++) {
    const step = steps[state.stepIndex]!;
    if (step.weight === 100 || state.promoteRequested || status.phase === 'awaiting-approval') break;
    if (!state.baseline || status.step !== state.stepIndex + 1) {
      status.step = state.stepIndex + 1;
      status.weight = step.weight;
      status.phase = 'shifting';
      status.live = undefined;
      await control.applyDeployment({
        model: modelName,
        stable,
        canary: { ...candidate, weight: step.weight },
      });
      state.baseline = await control.snapshotTraffic({ model: modelName });
      state.bakedMs = 0;
    }
    status.phase = state.paused ? 'paused' : 'baking';
    ctx.showDetails();
    // Time spent not paused: both the bake and the wait for traffic pause with the rollout.
    for (;;) {
      await checkAbort(ctx);
      await maybeContinueAsNew(ctx);
      const tickStart = Date.now();
      await untilNextAnalysis(state, intervalMs);
      await checkAbort(ctx);
      const comparison = await analyse(ctx, step.minRequests);
      status.phase = state.paused ? 'paused' : 'baking';
      if (!state.paused) state.bakedMs += Date.now() - tickStart;
      ctx.showDetails();
      if (state.promoteRequested) break;
      if (state.paused) continue;
      if (comparison.verdict === 'pass' && state.bakedMs >= step.bakeSeconds * 1000) {
        status.comparisons.push(comparison);
        break;
      }
      if (
        comparison.verdict === 'insufficient-traffic' &&
        state.bakedMs >= input.rollout.maxWaitSeconds * 1000
      ) {
        status.comparisons.push(comparison);
        return await rollBack(
          ctx,
          `canary v${candidate.version} failed at ${where(state)}: ${comparison.reason} ` +
            `within rollout.maxWaitSeconds (${input.rollout.maxWaitSeconds}s); not enough evidence to promote`,
          FAILURE.CanaryInconclusive,
          comparison,
        );
      }
    }
  }
}
