/**
 * Pure shadow analysis: the candidate against stable on the same mirrored requests. Because both
 * scored the same instances (and, with feedback, the same labels), the comparison is of paired
 * differences, which need far fewer requests than two separate samples. Workflow-safe.
 */
import { LEGACY_LOG_LOSS_SIGNIFICANCE_Z, type PipelineConfig } from '../../contracts/pipeline-config';
import type { MetricCheck, ShadowComparison } from '../../contracts/temporal';
import {
  emptyShadowTraffic,
  emptyTraffic,
  trafficWindow,
  type ShadowTraffic,
  type TrafficSnapshot,
} from '../../contracts/traffic-window';
import { checkLatency, type AnalysisThresholds } from './analysis';
import { binomialTailForReport, formatP } from './statistics';

export type ShadowSettings = Exclude<PipelineConfig['rollout']['shadow'], false>;

export interface CompareShadowInput {
  baseline: TrafficSnapshot;
  current: TrafficSnapshot;
  stableVersion: string;
  shadowVersion: string;
  /** Time in shadow so far. */
  elapsedSeconds: number;
  shadow: ShadowSettings;
  thresholds: AnalysisThresholds;
}

/** How unlikely the shadow's errors must be at the allowed rate to fail before its minimum requests. */
const EARLY_FAILURE_SIGNIFICANCE = 0.001;

/** One-sided 95%: how sure the shadow's paired log loss must be to be within the margin before it passes. */
const NON_INFERIORITY_Z = 1.645;

const percent = (rate: number) => `${(rate * 100).toFixed(2)}%`;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;

function checkErrors(window: ShadowTraffic, minRequests: number, t: AnalysisThresholds): MetricCheck {
  const rate = window.requests === 0 ? 0 : window.errors / window.requests;
  // Stable answered every mirrored request (only its answers are mirrored): its rate here is 0.
  const limit = t.maxErrorRateIncrease;
  const p = binomialTailForReport(window.requests, window.errors, Math.max(limit, 1e-9));
  const judged = window.requests >= minRequests || p < EARLY_FAILURE_SIGNIFICANCE;
  return {
    metric: 'error rate',
    verdict: !judged ? 'not enough data' : rate > limit ? 'fail' : 'pass',
    detail:
      `shadow ${percent(rate)} (${window.errors}/${window.requests} mirrored requests) where stable answered all; ` +
      `threshold is ${percent(limit)} (thresholds.maxErrorRateIncrease); p = ${formatP(p)} of that many errors at it`,
  };
}

function checkScoreShift(
  window: ShadowTraffic,
  settings: ShadowSettings,
  t: AnalysisThresholds,
): MetricCheck {
  if (window.pairs < t.minSamples) {
    return {
      metric: 'score distribution',
      verdict: 'not enough data',
      detail: `${window.pairs} paired scores; ${t.minSamples} needed (thresholds.minSamples)`,
    };
  }
  const mean = window.scoreDiffSum / window.pairs;
  const rms = Math.sqrt(Math.max(0, window.scoreDiffSquaredSum / window.pairs));
  return {
    metric: 'score distribution',
    verdict: rms > settings.maxScoreShift ? 'fail' : 'pass',
    detail:
      `shadow − stable on the same ${window.pairs} instances: mean ${signed(mean)}, root mean square ${rms.toFixed(4)}; ` +
      `threshold is ${settings.maxScoreShift} (rollout.shadow.maxScoreShift)`,
  };
}

/**
 * Paired log loss: the mean of (shadow − stable) log loss over labels of the same requests, and
 * its standard error from the differences' own variance, which is small when the two models
 * mostly agree: fails when the mean exceeds maxLogLossIncrease by more than logLossSignificanceZ
 * standard errors.
 */
function checkPairedLogLoss(window: ShadowTraffic, t: AnalysisThresholds): MetricCheck {
  const n = window.feedback;
  // Two labels at least: one has no variance to judge it by.
  if (n < Math.max(2, t.minFeedback)) {
    return {
      metric: 'online log loss',
      verdict: 'not enough data',
      detail: `${n} labels joined to both sides; ${t.minFeedback} needed (thresholds.minFeedback)`,
    };
  }
  const mean = window.logLossDiffSum / n;
  const variance = Math.max(0, (window.logLossDiffSquaredSum - window.logLossDiffSum * mean) / (n - 1));
  const se = Math.sqrt(variance / n);
  const excess = mean - t.maxLogLossIncrease;
  const z = excess > 0 ? (se > 0 ? excess / se : Infinity) : undefined;
  const zThreshold = t.logLossSignificanceZ ?? LEGACY_LOG_LOSS_SIGNIFICANCE_Z;
  const zText = z === undefined ? 'within the margin' : `z = ${Number.isFinite(z) ? z.toFixed(2) : '∞'}`;
  // Passing needs evidence too: the difference shown no worse than the margin (one-sided 95% bound).
  const upperBound = mean + NON_INFERIORITY_Z * se;
  const verdict =
    z !== undefined && z > zThreshold
      ? 'fail'
      : upperBound <= t.maxLogLossIncrease
        ? 'pass'
        : 'not enough data';
  return {
    metric: 'online log loss',
    verdict,
    detail:
      `shadow − stable on the same ${n} labels: ${signed(mean)} ± ${se.toFixed(4)} (standard error), ${zText}, ` +
      `95% upper bound ${signed(upperBound)}; fails when above ${t.maxLogLossIncrease} (thresholds.maxLogLossIncrease) ` +
      `with z > ${zThreshold} (thresholds.logLossSignificanceZ), passes when the bound is within it`,
  };
}

/** The shadow's verdict so far: fail on any regression, pass once it has had its time, requests and labels. */
export function compareShadow(input: CompareShadowInput): ShadowComparison {
  const t = input.thresholds;
  const versionWindow = trafficWindow(input.baseline, input.current, input.shadowVersion);
  const window = versionWindow.shadow ?? emptyShadowTraffic();
  const stableFeedback = trafficWindow(input.baseline, input.current, input.stableVersion).feedback;
  const latency = checkLatency(
    { ...emptyTraffic(), latencyBuckets: window.shadowLatencyBuckets },
    { ...emptyTraffic(), latencyBuckets: window.stableLatencyBuckets },
    t,
  );
  const checks: MetricCheck[] = [
    checkErrors(window, input.shadow.minRequests, t),
    {
      ...latency,
      detail: `model time on the same requests: ${latency.detail.replaceAll('canary', 'shadow')}`,
    },
    checkScoreShift(window, input.shadow, t),
    checkPairedLogLoss(window, t),
  ];
  const base = {
    stableVersion: input.stableVersion,
    shadowVersion: input.shadowVersion,
    elapsedSeconds: input.elapsedSeconds,
    requests: window.requests,
    errors: window.errors,
    dropped: window.dropped,
    pairs: window.pairs,
    feedback: window.feedback,
    ...(window.pairs > 0 ? { meanScoreShift: window.scoreDiffSum / window.pairs } : {}),
    ...(window.feedback > 0 ? { meanLogLossDifference: window.logLossDiffSum / window.feedback } : {}),
    checks,
  };
  const failed = checks.find((check) => check.verdict === 'fail');
  if (failed) return { ...base, verdict: 'fail', reason: `${failed.metric}: ${failed.detail}` };
  const waiting: string[] = [];
  if (input.elapsedSeconds < input.shadow.seconds)
    waiting.push(`${input.shadow.seconds} s in shadow (rollout.shadow.seconds)`);
  if (window.requests < input.shadow.minRequests) {
    waiting.push(
      `${window.requests}/${input.shadow.minRequests} mirrored requests (rollout.shadow.minRequests)`,
    );
  }
  // Labels arrive late; when stable is getting them, the shadow's paired ones are worth the wait,
  // until they show the shadow no worse (or worse: a failure).
  const logLoss = checks[3]!;
  if (stableFeedback >= t.minFeedback && logLoss.verdict === 'not enough data') {
    waiting.push(
      window.feedback < t.minFeedback
        ? `${window.feedback}/${t.minFeedback} paired labels`
        : `paired labels to show the log loss within the margin (${window.feedback} so far)`,
    );
  }
  if (waiting.length > 0) {
    return { ...base, verdict: 'insufficient-traffic', reason: `waiting for ${waiting.join('; ')}` };
  }
  return {
    ...base,
    verdict: 'pass',
    reason: checks.map((check) => `${check.metric}: ${check.verdict}`).join(', '),
  };
}
