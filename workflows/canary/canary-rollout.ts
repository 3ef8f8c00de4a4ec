/**
 * canaryRollout: shift traffic to the candidate step by step, compare it with stable at each
 * step, and send every request back to stable the moment it regresses. Operators can pause,
 * resume, promote or abort it by signal; with a full-traffic gate it holds before 100% until a
 * person approves. It runs under the model's deployment workflow id, so it is the only
 * deployment of its model while it runs; it moves the registry's statuses and aliases itself,
 * inside that lock.
 *
 * The steps live beside this file: canary-context (input, state, activities), canary-handlers
 * (the query and Signals), canary-registry (stable at the start, promotion at the end),
 * shadow (the candidate scores copies of stable's requests first), canary-steps (the step loop), canary-gate (the full-traffic gate), canary-checks (abort and
 * analysis on every tick), canary-compensation (rollback), canary-continue-as-new (long holds).
 */
import { isCancellation, patched, setCurrentDetails } from '@temporalio/workflow';
import { restoreStableOnCancel } from './compensation';
import { createRolloutContext, type CanaryContext, type CanaryRolloutInput } from './context';
import { holdAtFullTrafficGate } from './gate';
import { setRolloutHandlers } from './handlers';
import { claimCanary, promoteCandidate } from './registry';
import { runShadowStep } from './shadow';
import { bakeSteps } from './steps';
import type { RolloutResult } from '../../contracts/temporal';

export type { RolloutCarry } from './context';

const SHADOW_STEP_PATCH = 'rollout-shadow-step';

/** Takes a registered candidate to production through a canary, or rolls back to stable and fails. */
export async function canaryRollout(input: CanaryRolloutInput): Promise<RolloutResult> {
  const { modelName, carry } = input;
  const rollout = createRolloutContext(input);
  const { state, candidate } = rollout;
  const { status } = state;
  setRolloutHandlers(rollout);

  const stable = carry ? carry.stable : await claimCanary(rollout);
  if (!stable) {
    // The first version of a model has nothing to be compared with: it takes all traffic at once.
    const result = await promoteCandidate(
      rollout,
      undefined,
      'canaryRollout',
      'first version of the model: no stable to compare with',
    );
    setCurrentDetails(
      `${modelName} v${candidate.version} deployed as the first version (no stable to compare with).`,
    );
    return result;
  }
  status.stableVersion = stable.version;
  const ctx: CanaryContext = { ...rollout, stable };

  try {
    // A run continued as new is past its shadow step; rollouts recorded before it replay without one.
    if (!carry && patched(SHADOW_STEP_PATCH)) await runShadowStep(ctx);
    await bakeSteps(ctx);
    await holdAtFullTrafficGate(ctx);
  } catch (err) {
    if (isCancellation(err)) await restoreStableOnCancel(ctx);
    throw err;
  }

  const { gateDecision, promoteRequested } = state;
  const by = gateDecision?.by ?? promoteRequested ?? 'canary analysis';
  const result = await promoteCandidate(
    ctx,
    stable,
    by,
    gateDecision
      ? `full traffic approved by ${gateDecision.by}`
      : `canary passed ${status.comparisons.length} step(s)`,
  );
  ctx.showDetails();
  return result;
}
