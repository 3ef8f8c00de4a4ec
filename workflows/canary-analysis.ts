/** Pure canary analysis: compare the canary's traffic window against stable's. Workflow-safe. */
import type { CanaryComparison } from './definitions';

export type TrafficSnapshot = Record<string, { requests: number; errors: number }>;

export interface CompareCanaryInput {
  baseline: TrafficSnapshot;
  current: TrafficSnapshot;
  stableVersion: string;
  canaryVersion: string;
  step: number;
  weight: number;
  minRequests: number;
  maxErrorRateIncrease: number;
}

/** Requests and errors in the window between two cumulative snapshots; a replica restart resets to zero. */
export function windowCounts(baseline: TrafficSnapshot, current: TrafficSnapshot, version: string) {
  const before = baseline[version] ?? { requests: 0, errors: 0 };
  const after = current[version] ?? { requests: 0, errors: 0 };
  const requests = Math.max(0, after.requests - before.requests);
  const errors = Math.min(requests, Math.max(0, after.errors - before.errors));
  return { requests, errors, errorRate: requests === 0 ? 0 : errors / requests };
}

const percent = (rate: number) => `${(rate * 100).toFixed(2)}%`;

/** Verdict for one rollout step: fail on an error-rate regression, wait while traffic is too thin. */
export function compareCanary(input: CompareCanaryInput): CanaryComparison {
  const stable = windowCounts(input.baseline, input.current, input.stableVersion);
  const canary = windowCounts(input.baseline, input.current, input.canaryVersion);
  const base = { step: input.step, weight: input.weight, stable, canary };
  if (canary.requests < input.minRequests) {
    return {
      ...base,
      verdict: 'insufficient-traffic',
      reason: `canary v${input.canaryVersion} received ${canary.requests} requests; ${input.minRequests} are needed`,
    };
  }
  const limit = stable.errorRate + input.maxErrorRateIncrease;
  if (canary.errorRate > limit) {
    return {
      ...base,
      verdict: 'fail',
      reason:
        `error rate: canary v${input.canaryVersion} ${percent(canary.errorRate)} (${canary.errors}/${canary.requests}) ` +
        `vs stable v${input.stableVersion} ${percent(stable.errorRate)} (${stable.errors}/${stable.requests}); ` +
        `threshold is stable + ${percent(input.maxErrorRateIncrease)} (rollout.maxErrorRateIncrease)`,
    };
  }
  return {
    ...base,
    verdict: 'pass',
    reason: `error rate ${percent(canary.errorRate)} within stable ${percent(stable.errorRate)} + ${percent(input.maxErrorRateIncrease)}`,
  };
}
