/** Pure canary analysis: compare the canary's traffic window against stable's, metric by metric. Workflow-safe. */
import {
  LEGACY_LOG_LOSS_SIGNIFICANCE_Z,
  DEFAULT_SIGNIFICANCE_Z,
  type PipelineConfig,
} from '../../contracts/pipeline-config';
import type { CanaryComparison, MetricCheck, VersionWindowSummary } from '../../contracts/temporal';
import {
  binomialTail,
  binomialTailForReport,
  chiSquaredZ,
  exceedanceTail,
  formatP,
  gTest,
  mergeSparseBins,
  normalUpperTail,
} from './statistics';
import {
  binCounts,
  histogramCount,
  histogramCountAbove,
  histogramQuantile,
  histogramValueAtRank,
  jensenShannonDivergence,
  sharedBounds,
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
  /**
   * Weigh latency and score evidence by sample size (the exceedance and G tests). False only
   * replays rollouts recorded before, which judged the point estimates alone.
   */
  noiseAware?: boolean;
}

/** How unlikely the canary's errors must be at the allowed rate to fail before the step's minimum traffic. */
const EARLY_FAILURE_SIGNIFICANCE = 0.001;

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
  evidence: boolean,
): MetricCheck {
  const limit = stable.errorRate + t.maxErrorRateIncrease;
  const chance = evidence
    ? `; p = ${formatP(binomialTailForReport(canary.requests, canary.errors, Math.min(1, limit)))} of that many errors at the threshold rate`
    : '';
  return {
    metric: 'error rate',
    verdict: canary.errorRate > limit ? 'fail' : 'pass',
    detail:
      `canary ${percent(canary.errorRate)} (${canary.errors}/${canary.requests}) vs stable ${percent(stable.errorRate)} ` +
      `(${stable.errors}/${stable.requests}); threshold is stable + ${percent(t.maxErrorRateIncrease)} (thresholds.maxErrorRateIncrease)${chance}`,
  };
}

/** The p99 rule alone, as rollouts recorded before noiseAware judged it. */
function checkLatencyPointEstimate(
  canary: VersionTraffic,
  stable: VersionTraffic,
  t: AnalysisThresholds,
): MetricCheck {
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

/** The divergence of the smoothed histograms alone, as rollouts recorded before noiseAware judged it. */
function checkScoresPointEstimate(
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

const notEnoughLatency = (t: AnalysisThresholds): MetricCheck => ({
  metric: 'p99 latency',
  verdict: 'not enough data',
  detail: `fewer than ${t.minSamples} requests on a side`,
});

/**
 * p99 latency, weighed by its evidence. A p99 of a few dozen requests on a busy machine is noise,
 * so besides the p99 rule (canary > stable × maxP99LatencyRatio and > stable +
 * minP99LatencyIncreaseMs) the canary fails only when its requests slower than stable's p99 with
 * that margin are too many to be chance: stable's p99 read as its j-th slowest request (j = 1% of
 * stable's requests, at least 1) and the exceedance test's p-value for that many of the canary's
 * requests beyond it, with the margin, if both sides came from one distribution.
 */
export function checkLatency(
  canary: VersionTraffic,
  stable: VersionTraffic,
  t: AnalysisThresholds,
): MetricCheck {
  const nc = histogramCount(canary.latencyBuckets);
  const ns = histogramCount(stable.latencyBuckets);
  const canaryP99 = histogramQuantile(canary.latencyBuckets, 0.99);
  const stableP99 = histogramQuantile(stable.latencyBuckets, 0.99);
  if (canaryP99 === undefined || stableP99 === undefined || nc < t.minSamples || ns < t.minSamples) {
    return notEnoughLatency(t);
  }
  const [canaryMs, stableMs] = [canaryP99 * 1000, stableP99 * 1000];
  const beyondMargin =
    canaryMs > stableMs * t.maxP99LatencyRatio && canaryMs - stableMs > t.minP99LatencyIncreaseMs;
  const j = Math.max(1, Math.ceil(ns * 0.01));
  const stableTail = histogramValueAtRank(stable.latencyBuckets, ns - j + 1)!;
  const limit = Math.max(stableTail * t.maxP99LatencyRatio, stableTail + t.minP99LatencyIncreaseMs / 1000);
  // Rounded down: a bucket's share is spread evenly, and a fraction of a request is no evidence.
  const slower = Math.floor(histogramCountAbove(canary.latencyBuckets, limit) + 1e-9);
  const p = exceedanceTail(ns, j, nc, slower);
  const z = t.latencySignificanceZ ?? DEFAULT_SIGNIFICANCE_Z;
  // z 0: the p99 rule alone, as the setting says.
  const alpha = z > 0 ? normalUpperTail(z) : Infinity;
  return {
    metric: 'p99 latency',
    verdict: beyondMargin && p < alpha ? 'fail' : 'pass',
    detail:
      `canary ${canaryMs.toFixed(1)} ms vs stable ${stableMs.toFixed(1)} ms (${nc} and ${ns} requests); ` +
      `${slower} canary requests slower than ${(limit * 1000).toFixed(1)} ms (stable's ${ordinal(j)} slowest with the margin), ` +
      `p = ${formatP(p)} by chance; threshold is stable × ${t.maxP99LatencyRatio} (thresholds.maxP99LatencyRatio) ` +
      `and at least +${t.minP99LatencyIncreaseMs} ms (thresholds.minP99LatencyIncreaseMs), ` +
      `with p < ${Number.isFinite(alpha) ? formatP(alpha) : '1'} (z ${z}, thresholds.latencySignificanceZ)`,
  };
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/**
 * Score distributions, weighed by their evidence. Sparse bins are merged first (5 expected scores
 * of the smaller side each); the divergence of two small samples is biased upwards, by
 * (bins − 1)(1/nc + 1/ns) / (8 ln 2) bits for samples of one distribution, so that is taken off
 * before the limit; and the canary fails only when a G-test says the samples differ by more than
 * chance. Returns the bias-corrected divergence beside the check.
 */
export function checkScores(
  canary: VersionTraffic,
  stable: VersionTraffic,
  t: AnalysisThresholds,
): [MetricCheck, number?] {
  const nc = histogramCount(canary.scoreBuckets);
  const ns = histogramCount(stable.scoreBuckets);
  if (nc < t.minSamples || ns < t.minSamples) {
    return [
      {
        metric: 'score distribution',
        verdict: 'not enough data',
        detail: `fewer than ${t.minSamples} scores on a side`,
      },
    ];
  }
  const bounds = sharedBounds(canary.scoreBuckets, stable.scoreBuckets);
  const [c, s] = mergeSparseBins(
    binCounts(canary.scoreBuckets, bounds),
    binCounts(stable.scoreBuckets, bounds),
  );
  const g = gTest(c, s);
  const divergence = jensenShannonOfCounts(c, s);
  const bias = (g.df * (1 / nc + 1 / ns)) / (8 * Math.LN2);
  const corrected = Math.max(0, divergence - bias);
  const zScores = chiSquaredZ(g.statistic, g.df);
  const zThreshold = t.scoreSignificanceZ ?? DEFAULT_SIGNIFICANCE_Z;
  return [
    {
      metric: 'score distribution',
      verdict:
        corrected > t.maxScoreDivergence && (zThreshold === 0 || zScores > zThreshold) ? 'fail' : 'pass',
      detail:
        `Jensen-Shannon divergence ${corrected.toFixed(3)} between canary and stable scores (${nc} and ${ns}; ` +
        `${divergence.toFixed(3)} before the small-sample bias ${bias.toFixed(3)}), G = ${g.statistic.toFixed(1)} on ${g.df} df, ` +
        `z = ${zScores.toFixed(2)}; threshold is ${t.maxScoreDivergence} (thresholds.maxScoreDivergence) ` +
        `with z > ${zThreshold} (thresholds.scoreSignificanceZ)`,
    },
    corrected,
  ];
}

/** Jensen-Shannon divergence (base 2) of two binned samples, unsmoothed: 0 · log 0 is 0. */
function jensenShannonOfCounts(a: readonly number[], b: readonly number[]): number {
  const na = a.reduce((sum, x) => sum + x, 0);
  const nb = b.reduce((sum, x) => sum + x, 0);
  let divergence = 0;
  for (let i = 0; i < a.length; i++) {
    const p = a[i]! / na;
    const q = b[i]! / nb;
    const m = (p + q) / 2;
    if (p > 0) divergence += 0.5 * p * Math.log2(p / m);
    if (q > 0) divergence += 0.5 * q * Math.log2(q / m);
  }
  return Math.max(0, divergence);
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
  const zThreshold = t.logLossSignificanceZ ?? LEGACY_LOG_LOSS_SIGNIFICANCE_Z;
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
  const noiseAware = input.noiseAware ?? true;
  const [scoreCheck, scoreDivergence] = (noiseAware ? checkScores : checkScoresPointEstimate)(
    canaryWindow,
    stableWindow,
    input.thresholds,
  );
  const errorCheck = checkErrorRate(canary, stable, input.thresholds, noiseAware);
  // Error rates over a handful of requests are noise: judge them once the step's minimum is met,
  // or earlier when the errors are already too many to be chance at the allowed rate.
  const allowedRate = Math.min(1, stable.errorRate + input.thresholds.maxErrorRateIncrease);
  const errorRateJudged =
    canary.requests >= input.minRequests ||
    binomialTail(canary.requests, canary.errors, allowedRate) < EARLY_FAILURE_SIGNIFICANCE;
  const logLossCheck = checkLogLoss(canaryWindow, stableWindow, input.thresholds);
  const checks: MetricCheck[] = [
    errorRateJudged ? errorCheck : { ...errorCheck, verdict: 'not enough data' },
    (noiseAware ? checkLatency : checkLatencyPointEstimate)(canaryWindow, stableWindow, input.thresholds),
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
