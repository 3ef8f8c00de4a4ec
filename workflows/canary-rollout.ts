/**
 * canaryRollout: shift traffic to the candidate step by step, compare it with stable at each
 * step, and send every request back to stable the moment it regresses.
 */
import {
  ApplicationFailure,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities';
import { compareCanary } from './canary-analysis';
import {
  rolloutStatusQuery,
  type CanaryComparison,
  type RolloutInput,
  type RolloutResult,
  type RolloutStatus,
} from './definitions';

const { applyDeployment, snapshotTraffic } = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { maximumAttempts: 10, initialInterval: '500 milliseconds', maximumInterval: '5 seconds' },
});

/** How often a baking step re-reads the replicas' counters: this bounds the time to detect a regression. */
const ANALYSIS_INTERVAL_MS = 1_000;

function comparisonMarkdown(input: RolloutInput, status: RolloutStatus): string {
  const rows = status.comparisons.map(
    (c) =>
      `| ${c.step} | ${c.weight}% | ${c.stable.requests} / ${(c.stable.errorRate * 100).toFixed(2)}% | ` +
      `${c.canary.requests} / ${(c.canary.errorRate * 100).toFixed(2)}% | ${c.verdict} |`,
  );
  return [
    `## Canary ${input.modelName} v${input.candidateVersion} vs stable v${input.stableVersion ?? '—'}: ${status.phase}, ${status.weight}% of traffic`,
    '',
    '| step | weight | stable requests / errors | canary requests / errors | verdict |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export async function canaryRollout(input: RolloutInput): Promise<RolloutResult> {
  const status: RolloutStatus = { phase: 'shifting', step: 0, weight: 0, comparisons: [] };
  setHandler(rolloutStatusQuery, () => status, {
    description: 'Current step, traffic weight and canary comparisons.',
  });
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

  const rollBack = async (comparison: CanaryComparison): Promise<never> => {
    await applyDeployment({ model: input.modelName, stable });
    status.phase = 'rolled-back';
    status.weight = 0;
    setCurrentDetails(comparisonMarkdown(input, status));
    throw ApplicationFailure.create({
      nonRetryable: true,
      type: 'CanaryRegression',
      message: `canary v${input.candidateVersion} failed at step ${comparison.step} (${comparison.weight}%): ${comparison.reason}`,
      details: [comparison],
    });
  };

  for (const [index, step] of input.rollout.steps.entries()) {
    status.step = index + 1;
    status.weight = step.weight;
    status.phase = 'shifting';
    if (step.weight === 100) break;
    await applyDeployment({ model: input.modelName, stable, canary: { ...candidate, weight: step.weight } });
    const baseline = await snapshotTraffic({ model: input.modelName });
    status.phase = 'baking';
    setCurrentDetails(comparisonMarkdown(input, status));

    const started = Date.now();
    for (;;) {
      await sleep(ANALYSIS_INTERVAL_MS);
      const comparison = compareCanary({
        baseline,
        current: await snapshotTraffic({ model: input.modelName }),
        stableVersion: stable.version,
        canaryVersion: candidate.version,
        step: status.step,
        weight: step.weight,
        minRequests: step.minRequests,
        maxErrorRateIncrease: input.rollout.maxErrorRateIncrease,
      });
      const elapsedSeconds = (Date.now() - started) / 1000;
      if (comparison.verdict === 'fail') {
        status.comparisons.push(comparison);
        await rollBack(comparison);
      }
      if (comparison.verdict === 'pass' && elapsedSeconds >= step.bakeSeconds) {
        status.comparisons.push(comparison);
        break;
      }
      if (comparison.verdict === 'insufficient-traffic' && elapsedSeconds >= input.rollout.maxWaitSeconds) {
        const inconclusive = {
          ...comparison,
          verdict: 'fail' as const,
          reason: `${comparison.reason} within rollout.maxWaitSeconds (${input.rollout.maxWaitSeconds}s); not enough evidence to promote`,
        };
        status.comparisons.push(inconclusive);
        await rollBack(inconclusive);
      }
    }
    setCurrentDetails(comparisonMarkdown(input, status));
  }

  await applyDeployment({ model: input.modelName, stable: candidate });
  status.phase = 'promoted';
  status.weight = 100;
  setCurrentDetails(comparisonMarkdown(input, status));
  return { outcome: 'promoted', comparisons: status.comparisons };
}
