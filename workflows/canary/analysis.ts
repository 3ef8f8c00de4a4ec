/** Pure canary analysis: compare the canary's traffic window against stable's, metric by metric. Workflow-safe. */
import { DEFAULT_LOG_LOSS_SIGNIFICANCE_Z, type PipelineConfig } from '../../contracts/pipeline-config';
import type { CanaryComparison, MetricCheck, VersionWindowSummary } from '../../contracts/temporal';
import {
  histogramCount,
  histogramQuantile,
  jensenShannonDivergence,
  knownLogLossSquaredSum,
  trafficWindow,
  type TrafficSnapshot,
  type VersionTraffic,
} from '../../contracts/traffic-window';

export type { TrafficSnapshot } from '../../contracts/traffic-window';
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

/** Mean and unbiased variance of one side's per-label log loss; variance undefined when unknown. */
interface LogLossSample {
  labels: number;
  mean: number;
  variance?: number;
}

function logLossSample(window: VersionTraffic): LogLossSample {
  const n = window.feedback;
  const mean = n > 0 ? window.logLossSum / n : 0;
  const squared = knownLogLossSquaredSum(window);
  if (squared === undefined || n < 2) return { labels: n, mean };
  // Σ(x − mean)² = Σx² − (Σx)²/n; clamped at 0 against rounding.
  return { labels: n, mean, variance: Math.max(0, (squared - window.logLossSum * mean) / (n - 1)) };
}

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;

/**
 * Online log loss from feedback. Means over a few dozen labels are noisy (a standard error of ~0.1
 * with 30 labels a side), so the canary fails only when it is worse than stable by more than
 * `maxLogLossIncrease` and that excess is significant: (d − margin) / se > `logLossSignificanceZ`,
 * d the difference of means and se its standard error √(vc/nc + vs/ns) (Welch). A window without
 * the squared sums (an older server) cannot show significance: a canary within the margin passes,
 * one beyond it is 'not enough data', never a failure.
 */
export function checkLogLoss(
  canary: VersionTraffic,
  stable: VersionTraffic,
  t: AnalysisThresholds,
): MetricCheck {
  if (
    canary.feedback === 0 ||
    stable.feedback === 0 ||
    canary.feedback < t.minFeedback ||
    stable.feedback < t.minFeedback
  ) {
    return {
      metric: 'online log loss',
      verdict: 'not enough data',
      detail: `feedback labels: canary ${canary.feedback}, stable ${stable.feedback}; ${t.minFeedback} needed on each side`,
    };
  }
  // Workflows started before the threshold existed carry thresholds without it.
  const zThreshold = t.logLossSignificanceZ ?? DEFAULT_LOG_LOSS_SIGNIFICANCE_Z;
  const margin = t.maxLogLossIncrease;
  const c = logLossSample(canary);
  const s = logLossSample(stable);
  const d = c.mean - s.mean;
  const se =
    c.variance === undefined || s.variance === undefined
      ? undefined
      : Math.sqrt(c.variance / c.labels + s.variance / s.labels);
  const means =
    `canary ${c.mean.toFixed(4)} (${c.labels} labels) vs stable ${s.mean.toFixed(4)} (${s.labels} labels); ` +
    `difference ${signed(d)}`;
  const rule =
    `fails when canary > stable + ${margin} (thresholds.maxLogLossIncrease) ` +
    `with z > ${zThreshold} (thresholds.logLossSignificanceZ)`;
  if (se === undefined) {
    return {
      metric: 'online log loss',
      verdict: d > margin ? 'not enough data' : 'pass',
      detail:
        `${means}, standard error unknown (a side lacks the squared log-loss sum: a server older than ` +
        `that counter, or fewer than 2 labels); ${rule}`,
    };
  }
  const excess = d - margin;
  // se = 0 only when every label had the same loss: then any excess is certain.
  const z = excess > 0 ? (se > 0 ? excess / se : Infinity) : undefined;
  const zText = z === undefined ? 'within the margin' : `z = ${Number.isFinite(z) ? z.toFixed(2) : '∞'}`;
  return {
    metric: 'online log loss',
    verdict: z !== undefined && z > zThreshold ? 'fail' : 'pass',
    detail: `${means} ± ${se.toFixed(4)} (standard error), ${zText}; ${rule}`,
  };
}

/** Checks whose data stable already has in this window while the canary has too little. */
function awaitedChecks(
  canary: VersionTraffic,
  stable: VersionTraffic,
  stableSummary: VersionWindowSummary,
  logLoss: MetricCheck,
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
  } else if (logLoss.verdict === 'not enough data' && stableSummary.feedback >= t.minFeedback) {
    // Enough labels, worse than the margin, but no variance to judge it by: neither pass nor fail.
    awaited.push(
      'online log loss (canary beyond thresholds.maxLogLossIncrease; its standard error needs the squared log-loss sum)',
    );
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
  const logLossCheck = checkLogLoss(canaryWindow, stableWindow, input.thresholds);
  const checks: MetricCheck[] = [
    errorRateJudged ? errorCheck : { ...errorCheck, verdict: 'not enough data' },
    checkLatency(canaryWindow, stableWindow, input.thresholds),
    scoreCheck,
    logLossCheck,
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
  const awaited = awaitedChecks(canaryWindow, stableWindow, stable, logLossCheck, input.thresholds);
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
