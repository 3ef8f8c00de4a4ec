/**
 * canaryRollout: shift traffic to the candidate step by step, compare it with stable at each
 * step, and send every request back to stable the moment it regresses. Operators can pause,
 * resume, promote or abort it by signal.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities';
import { compareCanary } from './canary-analysis';
import {
  abortRolloutSignal,
  pauseRolloutSignal,
  promoteRolloutSignal,
  resumeRolloutSignal,
  rolloutStatusQuery,
  type CanaryComparison,
  type RolloutCommand,
  type RolloutInput,
  type RolloutResult,
  type RolloutStatus,
} from './definitions';
import { rolloutDetailsMarkdown } from './rollout-details';
import { checkRolloutCommandPayload } from './signal-payloads';

const { applyDeployment, snapshotTraffic } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { maximumAttempts: 10, initialInterval: '500 milliseconds', maximumInterval: '5 seconds' },
});

const PAUSED_ANALYSIS_INTERVAL_MS = 30_000;

export async function canaryRollout(input: RolloutInput): Promise<RolloutResult> {
  const status: RolloutStatus = { phase: 'shifting', step: 0, weight: 0, comparisons: [], commands: [] };
  let paused = false;
  let promoteRequested: string | undefined;
  let abortRequested: string | undefined;

  setHandler(rolloutStatusQuery, () => status, {
    description: 'Current step, traffic weight and canary comparisons.',
  });
  const onCommand =
    (command: RolloutCommand, apply: (by: string, reason?: string) => string) => (payload: unknown) => {
      const at = new Date().toISOString();
      const checked = checkRolloutCommandPayload(payload);
      if (!checked.ok) {
        status.commands.push({ command, by: '?', at, outcome: `refused: ${checked.reason}` });
        return;
      }
      const { by, reason } = checked.value;
      const outcome = ['promoted', 'rolled-back', 'aborted'].includes(status.phase)
        ? `ignored: rollout already ${status.phase}`
        : apply(by, reason);
      status.commands.push({ command, by, ...(reason ? { reason } : {}), at, outcome });
    };
  const payloadHelp = 'Payload: {"by": "your name", "reason": "optional"}';
  setHandler(
    pauseRolloutSignal,
    onCommand('pause', () => ((paused = true), 'paused: weights hold, analysis goes on')),
    { description: `Hold the canary at its current weight (regressions still roll back). ${payloadHelp}` },
  );
  setHandler(
    resumeRolloutSignal,
    onCommand('resume', () => ((paused = false), 'resumed')),
    {
      description: `Continue a paused canary. ${payloadHelp}`,
    },
  );
  setHandler(
    promoteRolloutSignal,
    onCommand('promote', (by) => ((promoteRequested = by), 'promoting to 100%')),
    {
      description: `Skip the remaining steps and send 100% of traffic to the candidate. ${payloadHelp}`,
    },
  );
  setHandler(
    abortRolloutSignal,
    onCommand(
      'abort',
      (by, reason) => ((abortRequested = `${by}${reason ? `: ${reason}` : ''}`), 'aborting'),
    ),
    {
      description: `Send all traffic back to stable and fail the rollout. ${payloadHelp}`,
    },
  );

  const showDetails = () => setCurrentDetails(rolloutDetailsMarkdown(input, status));
  const candidate = { version: input.candidateVersion, modelUri: input.candidateModelUri };

  if (!input.stableVersion || !input.stableModelUri) {
    // The first version of a model has nothing to be compared with: it takes all traffic at once.
    await applyDeployment({ model: input.modelName, stable: candidate });
    Object.assign(status, { phase: 'promoted', step: input.rollout.steps.length, weight: 100 });
    setCurrentDetails(
      `${input.modelName} v${input.candidateVersion} deployed as the first version (no stable to compare with).`,
    );
    return { outcome: 'promoted', comparisons: [] };
  }
  const stable = { version: input.stableVersion, modelUri: input.stableModelUri };

  /** Compensation: all traffic back to stable first, then explain. */
  const rollBack = async (reason: string, type: string, comparison?: CanaryComparison): Promise<never> => {
    await applyDeployment({ model: input.modelName, stable });
    status.phase = type === 'RolloutAborted' ? 'aborted' : 'rolled-back';
    status.weight = 0;
    showDetails();
    throw ApplicationFailure.create({
      nonRetryable: true,
      type,
      message: reason,
      details: comparison ? [comparison] : [],
    });
  };
  const intervalMs = input.rollout.analysisIntervalSeconds * 1000;

  try {
    for (const [index, step] of input.rollout.steps.entries()) {
      if (step.weight === 100 || promoteRequested) break;
      status.step = index + 1;
      status.weight = step.weight;
      status.phase = 'shifting';
      status.live = undefined;
      await applyDeployment({
        model: input.modelName,
        stable,
        canary: { ...candidate, weight: step.weight },
      });
      const baseline = await snapshotTraffic({ model: input.modelName });
      status.phase = paused ? 'paused' : 'baking';
      showDetails();

      // Time spent not paused: both the bake and the wait for traffic pause with the rollout.
      let bakedMs = 0;
      for (;;) {
        const tickStart = Date.now();
        // Wakes early for a manual command, so abort and promote act within one analysis interval.
        // A paused rollout is analysed less often, so a long pause does not fill the history.
        const wasPaused = paused;
        await condition(
          () => abortRequested !== undefined || promoteRequested !== undefined || paused !== wasPaused,
          paused ? PAUSED_ANALYSIS_INTERVAL_MS : intervalMs,
        );
        if (abortRequested) {
          return rollBack(
            `canary v${candidate.version} aborted by ${abortRequested} at step ${status.step} (${step.weight}%)`,
            'RolloutAborted',
            status.live,
          );
        }
        const comparison = compareCanary({
          baseline,
          current: await snapshotTraffic({ model: input.modelName }),
          stableVersion: stable.version,
          canaryVersion: candidate.version,
          step: status.step,
          weight: step.weight,
          minRequests: step.minRequests,
          thresholds: input.rollout.thresholds,
        });
        status.live = comparison;
        status.phase = paused ? 'paused' : 'baking';
        if (!paused) bakedMs += Date.now() - tickStart;
        showDetails();
        if (comparison.verdict === 'fail') {
          status.comparisons.push(comparison);
          return rollBack(
            `canary v${candidate.version} failed at step ${comparison.step} (${comparison.weight}%): ${comparison.reason}`,
            'CanaryRegression',
            comparison,
          );
        }
        if (promoteRequested) break;
        if (paused) continue;
        if (comparison.verdict === 'pass' && bakedMs >= step.bakeSeconds * 1000) {
          status.comparisons.push(comparison);
          break;
        }
        if (comparison.verdict === 'insufficient-traffic' && bakedMs >= input.rollout.maxWaitSeconds * 1000) {
          status.comparisons.push(comparison);
          return rollBack(
            `canary v${candidate.version} failed at step ${comparison.step} (${comparison.weight}%): ${comparison.reason} ` +
              `within rollout.maxWaitSeconds (${input.rollout.maxWaitSeconds}s); not enough evidence to promote`,
            'CanaryInconclusive',
            comparison,
          );
        }
      }
    }
  } catch (err) {
    // Cancelled (the pipeline was cancelled or timed out): never leave traffic split.
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => applyDeployment({ model: input.modelName, stable }));
      status.phase = 'aborted';
      status.weight = 0;
    }
    throw err;
  }

  await applyDeployment({ model: input.modelName, stable: candidate });
  status.phase = 'promoted';
  status.weight = 100;
  status.live = undefined;
  showDetails();
  return {
    outcome: 'promoted',
    comparisons: status.comparisons,
    ...(promoteRequested ? { promotedBy: promoteRequested } : {}),
  };
}
