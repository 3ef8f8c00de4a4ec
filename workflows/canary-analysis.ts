/** Pure canary analysis: compare the canary's traffic window against stable's, metric by metric. Workflow-safe. */
import type { PipelineConfig } from '../lib/config-schema';
import type { CanaryComparison, MetricCheck, VersionWindowSummary } from './definitions';
import {
  histogramCount,
  histogramQuantile,
  jensenShannonDivergence,
  trafficWindow,
  type TrafficSnapshot,
  type VersionTraffic,
} from './traffic-window';

export type { TrafficSnapshot } from './traffic-window';
export type AnalysisThresholds = PipelineConfig['rollout']['thresholds'];

export interface CompareCanaryInput {
  baseline: TrafficSnapshot;
  current: TrafficSnapshot;
  stableVersion: string;
  canaryVersion: string;
  step: number;
  weight: number;
  minRequests: number;
  thresholds: AnalysisThresholds;
}

/** How unlikely the canary's errors must be at the allowed rate to fail before the step's minimum traffic. */
const EARLY_FAILURE_SIGNIFICANCE = 0.001;

/** P(X ≥ k) for X ~ Binomial(n, p): how likely k or more errors in n requests are by chance. */
export function binomialTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  // Sum the lower tail term by term, each log pmf(i + 1) from log pmf(i): no factorials, and no
  // underflow of pmf(0) = (1 - p)^n for large n silently zeroing every later term.
  const logOdds = Math.log(p) - Math.log1p(-p);
  let logPmf = n * Math.log1p(-p);
  let below = 0;
  for (let i = 0; i < k; i++) {
    below += Math.exp(logPmf);
    logPmf += Math.log(n - i) - Math.log(i + 1) + logOdds;
  }
  return Math.max(0, 1 - below);
}

const percent = (rate: number) => `${(rate * 100).toFixed(2)}%`;

function summarise(window: VersionTraffic): VersionWindowSummary {
  const p99 = histogramQuantile(window.latencyBuckets, 0.99);
  return {
    requests: window.requests,
    errors: window.errors,
    errorRate: window.requests === 0 ? 0 : window.errors / window.requests,
    ...(p99 === undefined ? {} : { p99LatencyMs: p99 * 1000 }),
    feedback: window.feedback,
    ...(window.feedback > 0 ? { onlineLogLoss: window.logLossSum / window.feedback } : {}),
  };
}

function checkErrorRate(
  canary: VersionWindowSummary,
  stable: VersionWindowSummary,
  t: AnalysisThresholds,
): MetricCheck {
  const limit = stable.errorRate + t.maxErrorRateIncrease;
  return {
    metric: 'error rate',
    verdict: canary.errorRate > limit ? 'fail' : 'pass',
    detail:
      `canary ${percent(canary.errorRate)} (${canary.errors}/${canary.requests}) vs stable ${percent(stable.errorRate)} ` +
      `(${stable.errors}/${stable.requests}); threshold is stable + ${percent(t.maxErrorRateIncrease)} (thresholds.maxErrorRateIncrease)`,
  };
}

function checkLatency(canary: VersionTraffic, stable: VersionTraffic, t: AnalysisThresholds): MetricCheck {
  const canaryP99 = histogramQuantile(canary.latencyBuckets, 0.99);
  const stableP99 = histogramQuantile(stable.latencyBuckets, 0.99);
  if (
    canaryP99 === undefined ||
    stableP99 === undefined ||
    histogramCount(canary.latencyBuckets) < t.minSamples ||
    histogramCount(stable.latencyBuckets) < t.minSamples
  ) {
    return {
      metric: 'p99 latency',
      verdict: 'not enough data',
      detail: `fewer than ${t.minSamples} requests on a side`,
    };
  }
  const [canaryMs, stableMs] = [canaryP99 * 1000, stableP99 * 1000];
  const fails = canaryMs > stableMs * t.maxP99LatencyRatio && canaryMs - stableMs > t.minP99LatencyIncreaseMs;
  return {
    metric: 'p99 latency',
    verdict: fails ? 'fail' : 'pass',
    detail:
      `canary ${canaryMs.toFixed(1)} ms vs stable ${stableMs.toFixed(1)} ms; threshold is stable × ${t.maxP99LatencyRatio} ` +
      `(thresholds.maxP99LatencyRatio) and at least +${t.minP99LatencyIncreaseMs} ms (thresholds.minP99LatencyIncreaseMs)`,
  };
}

function checkScores(
  canary: VersionTraffic,
  stable: VersionTraffic,
  t: AnalysisThresholds,
): [MetricCheck, number?] {
  if (
    histogramCount(canary.scoreBuckets) < t.minSamples ||
    histogramCount(stable.scoreBuckets) < t.minSamples
  ) {
    return [
      {
        metric: 'score distribution',
        verdict: 'not enough data',
        detail: `fewer than ${t.minSamples} scores on a side`,
      },
    ];
  }
  const divergence = jensenShannonDivergence(canary.scoreBuckets, stable.scoreBuckets);
  return [
    {
      metric: 'score distribution',
      verdict: divergence > t.maxScoreDivergence ? 'fail' : 'pass',
      detail: `Jensen-Shannon divergence ${divergence.toFixed(3)} between canary and stable scores; threshold is ${t.maxScoreDivergence} (thresholds.maxScoreDivergence)`,
    },
    divergence,
  ];
}

function checkLogLoss(
  canary: VersionWindowSummary,
  stable: VersionWindowSummary,
  t: AnalysisThresholds,
): MetricCheck {
  if (
    canary.onlineLogLoss === undefined ||
    stable.onlineLogLoss === undefined ||
    canary.feedback < t.minFeedback ||
    stable.feedback < t.minFeedback
  ) {
    return {
      metric: 'online log loss',
      verdict: 'not enough data',
      detail: `feedback labels: canary ${canary.feedback}, stable ${stable.feedback}; ${t.minFeedback} needed on each side`,
    };
  }
  return {
    metric: 'online log loss',
    verdict: canary.onlineLogLoss > stable.onlineLogLoss + t.maxLogLossIncrease ? 'fail' : 'pass',
    detail:
      `canary ${canary.onlineLogLoss.toFixed(4)} (${canary.feedback} labels) vs stable ${stable.onlineLogLoss.toFixed(4)} ` +
      `(${stable.feedback} labels); threshold is stable + ${t.maxLogLossIncrease} (thresholds.maxLogLossIncrease)`,
  };
}

/** Checks whose data stable already has in this window while the canary has too little. */
function awaitedChecks(
  canary: VersionTraffic,
  stable: VersionTraffic,
  stableSummary: VersionWindowSummary,
  t: AnalysisThresholds,
): string[] {
  const awaited: string[] = [];
  if (
    histogramCount(stable.latencyBuckets) >= t.minSamples &&
    histogramCount(canary.latencyBuckets) < t.minSamples
  ) {
    awaited.push(`p99 latency (${histogramCount(canary.latencyBuckets)}/${t.minSamples} requests)`);
  }
  if (
    histogramCount(stable.scoreBuckets) >= t.minSamples &&
    histogramCount(canary.scoreBuckets) < t.minSamples
  ) {
    awaited.push(`score distribution (${histogramCount(canary.scoreBuckets)}/${t.minSamples} scores)`);
  }
  if (stableSummary.feedback >= t.minFeedback && canary.feedback < t.minFeedback) {
    awaited.push(`online log loss (${canary.feedback}/${t.minFeedback} feedback labels)`);
  }
  return awaited;
}

/**
 * Verdict for one rollout step. Fails as soon as any metric regresses, even before the canary has
 * its minimum number of requests, so a broken model is caught within seconds; passes only with
 * enough traffic.
 */
export function compareCanary(input: CompareCanaryInput): CanaryComparison {
  const canaryWindow = trafficWindow(input.baseline, input.current, input.canaryVersion);
  const stableWindow = trafficWindow(input.baseline, input.current, input.stableVersion);
  const canary = summarise(canaryWindow);
  const stable = summarise(stableWindow);
  const [scoreCheck, scoreDivergence] = checkScores(canaryWindow, stableWindow, input.thresholds);
  const errorCheck = checkErrorRate(canary, stable, input.thresholds);
  // Error rates over a handful of requests are noise: judge them once the step's minimum is met,
  // or earlier when the errors are already too many to be chance at the allowed rate.
  const allowedRate = Math.min(1, stable.errorRate + input.thresholds.maxErrorRateIncrease);
  const errorRateJudged =
    canary.requests >= input.minRequests ||
    binomialTail(canary.requests, canary.errors, allowedRate) < EARLY_FAILURE_SIGNIFICANCE;
  const checks: MetricCheck[] = [
    errorRateJudged ? errorCheck : { ...errorCheck, verdict: 'not enough data' },
    checkLatency(canaryWindow, stableWindow, input.thresholds),
    scoreCheck,
    checkLogLoss(canary, stable, input.thresholds),
  ];
  const base = {
    step: input.step,
    weight: input.weight,
    stable,
    canary,
    checks,
    ...(scoreDivergence === undefined ? {} : { scoreDivergence }),
  };
  const failed = checks.find((check) => check.verdict === 'fail');
  if (failed) return { ...base, verdict: 'fail', reason: `${failed.metric}: ${failed.detail}` };
  if (canary.requests < input.minRequests) {
    return {
      ...base,
      verdict: 'insufficient-traffic',
      reason: `canary v${input.canaryVersion} received ${canary.requests} requests; ${input.minRequests} are needed`,
    };
  }
  // A check stable has data for but the canary not yet (labels arrive late) must be waited for:
  // passing without it would promote a worse model that only feedback can reveal.
  const awaited = awaitedChecks(canaryWindow, stableWindow, stable, input.thresholds);
  if (awaited.length > 0) {
    return {
      ...base,
      verdict: 'insufficient-traffic',
      reason: `waiting for canary data: ${awaited.join('; ')}`,
    };
  }
  return {
    ...base,
    verdict: 'pass',
    reason: checks.map((check) => `${check.metric}: ${check.verdict}`).join(', '),
  };
}
