/**
 * The two checks a baking step and the full-traffic gate make on every tick: has an operator
 * aborted, and does the canary still compare well with stable. Either failing rolls back.
 * Workflow-safe.
 */
import { patched } from '@temporalio/workflow';
import { compareCanary } from './analysis';
import { rollBack } from './compensation';
import { control, where, type CanaryContext } from './context';
import type { CanaryComparison } from '../../contracts/temporal';
import { FAILURE } from '../../contracts/failures';

/**
 * Latency and score checks weigh their evidence by sample size since this patch; a rollout that
 * judged the point estimates before it keeps doing so on replay.
 */
const NOISE_AWARE_JUDGEMENT = 'canary-noise-aware-judgement';

/** One comparison of the window since the baseline, kept as `status.live`; a failing one rolls back. */
export async function analyse(ctx: CanaryContext, minRequests: number): Promise<CanaryComparison> {
  const { input, state, candidate, stable } = ctx;
  const { status } = state;
  const comparison = compareCanary({
    baseline: state.baseline!,
    current: await control.snapshotTraffic({ model: input.modelName }),
    stableVersion: stable.version,
    canaryVersion: candidate.version,
    step: status.step,
    weight: status.weight,
    minRequests,
    thresholds: input.rollout.thresholds,
    noiseAware: patched(NOISE_AWARE_JUDGEMENT),
  });
  status.live = comparison;
  if (comparison.verdict === 'fail') {
    status.comparisons.push(comparison);
    return rollBack(
      ctx,
      `canary v${candidate.version} failed at ${where(state)}: ${comparison.reason}`,
      FAILURE.CanaryRegression,
      comparison,
    );
  }
  return comparison;
}

/** Rolls back when an operator has asked to abort; undefined (nothing to await) otherwise. */
export function checkAbort(ctx: CanaryContext): Promise<never> | undefined {
  const { state, candidate } = ctx;
  return state.abortRequested
    ? rollBack(
        ctx,
        `canary v${candidate.version} aborted by ${state.abortRequested} at ${where(state)}`,
        FAILURE.RolloutAborted,
        state.status.live,
      )
    : undefined;
}
