/** Prometheus metrics of the prediction server, on a registry of its own so several servers can share a process. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  FEEDBACK_LOG_LOSS_SQUARED_SUM_METRIC,
  FEEDBACK_LOG_LOSS_SUM_METRIC,
  FEEDBACK_TOTAL_METRIC,
  PREDICTION_LATENCY_METRIC,
  PREDICTION_REQUESTS_METRIC,
  PREDICTION_SCORE_METRIC,
  SCORE_BUCKETS,
  SHADOW_DROPPED_METRIC,
  SHADOW_FEEDBACK_METRIC,
  SHADOW_LATENCY_METRIC,
  SHADOW_LOG_LOSS_DIFF_SQUARED_SUM_METRIC,
  SHADOW_LOG_LOSS_DIFF_SUM_METRIC,
  SHADOW_PAIRS_METRIC,
  SHADOW_REQUESTS_METRIC,
  SHADOW_SCORE_DIFF_SQUARED_SUM_METRIC,
  SHADOW_SCORE_DIFF_SUM_METRIC,
} from '../lib/registry/deployment';
import type { Role } from './router';

/** success: the model answered; error: the request failed on the server side after routing. */
export type PredictionOutcome = 'success' | 'error';

/** Latency buckets in seconds: fine from 1 ms so canary analysis can compare quantiles of fast models. */
export const LATENCY_BUCKETS = [
  0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1,
  1.5, 2, 3, 5,
];

/** Instances per model call; powers of two up to the largest request. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** Probabilities are clipped to [ε, 1 − ε] before the log, so one confident miss cannot add infinity. */
export const LOG_LOSS_EPSILON = 1e-7;

/** The registry and the instruments the routes record into. */
export interface PredictionMetrics {
  registry: Registry;
  requests: Counter<'model' | 'version' | 'role' | 'outcome'>;
  latency: Histogram<'model' | 'version' | 'role'>;
  score: Histogram<'model' | 'version' | 'role'>;
  batchSize: Histogram<'model' | 'version'>;
  feedback: Counter<'model' | 'version'>;
  logLossSum: Counter<'model' | 'version'>;
  logLossSquaredSum: Counter<'model' | 'version'>;
  feedbackRejected: Counter<'reason'>;
  logRecordsDropped: Counter<'stream'>;
  shadow: ShadowMetrics;
}

type ShadowLabels = 'model' | 'version' | 'stable_version';

/** What the shadow mirror records: the candidate against stable on the same requests (see shadow-mirror.ts). */
export interface ShadowMetrics {
  requests: Counter<ShadowLabels | 'outcome'>;
  dropped: Counter<'model' | 'version'>;
  latency: Histogram<ShadowLabels | 'side'>;
  pairs: Counter<ShadowLabels>;
  /** Gauges: a sum of differences goes down as well as up (counters refuse that); cumulative all the same. */
  scoreDiffSum: Gauge<ShadowLabels>;
  scoreDiffSquaredSum: Counter<ShadowLabels>;
  feedback: Counter<ShadowLabels>;
  logLossDiffSum: Gauge<ShadowLabels>;
  logLossDiffSquaredSum: Counter<ShadowLabels>;
}

function createShadowMetrics(registers: Registry[]): ShadowMetrics {
  const labelNames = ['model', 'version', 'stable_version'] as const;
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers });
  const sum = (name: string, help: string) => new Gauge({ name, help, labelNames, registers });
  return {
    requests: new Counter({
      name: SHADOW_REQUESTS_METRIC,
      help: 'Requests mirrored to a shadow version, by outcome.',
      labelNames: [...labelNames, 'outcome'] as const,
      registers,
    }),
    dropped: new Counter({
      name: SHADOW_DROPPED_METRIC,
      help: 'Requests not mirrored to a shadow version because its queue was full (the user was answered regardless).',
      labelNames: ['model', 'version'] as const,
      registers,
    }),
    latency: new Histogram({
      name: SHADOW_LATENCY_METRIC,
      help: 'Model time of mirrored requests, on the stable and the shadow side, in seconds.',
      labelNames: [...labelNames, 'side'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    pairs: counter(SHADOW_PAIRS_METRIC, 'Instances scored by both stable and a shadow version.'),
    scoreDiffSum: sum(SHADOW_SCORE_DIFF_SUM_METRIC, 'Sum of (shadow − stable) scores over paired instances.'),
    scoreDiffSquaredSum: counter(
      SHADOW_SCORE_DIFF_SQUARED_SUM_METRIC,
      'Sum of squared (shadow − stable) score differences over paired instances.',
    ),
    feedback: counter(SHADOW_FEEDBACK_METRIC, 'Feedback labels joined to both sides of a mirrored instance.'),
    logLossDiffSum: sum(
      SHADOW_LOG_LOSS_DIFF_SUM_METRIC,
      'Sum of (shadow − stable) log loss over paired labels.',
    ),
    logLossDiffSquaredSum: counter(
      SHADOW_LOG_LOSS_DIFF_SQUARED_SUM_METRIC,
      'Sum of squared (shadow − stable) log-loss differences over paired labels.',
    ),
  };
}

/** Creates a fresh registry with default process metrics and the serving instruments. */
export function createPredictionMetrics(): PredictionMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const versionLabels = ['model', 'version', 'role'] as const;
  return {
    registry,
    requests: new Counter({
      name: PREDICTION_REQUESTS_METRIC,
      help: 'Prediction requests routed to a model version, by outcome.',
      labelNames: ['model', 'version', 'role', 'outcome'] as const,
      registers,
    }),
    latency: new Histogram({
      name: PREDICTION_LATENCY_METRIC,
      help: 'Time from routing a prediction request to its answer, in seconds.',
      labelNames: versionLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    score: new Histogram({
      name: PREDICTION_SCORE_METRIC,
      help: 'Predicted click probabilities, one observation per instance.',
      labelNames: versionLabels,
      buckets: SCORE_BUCKETS,
      registers,
    }),
    batchSize: new Histogram({
      name: 'mlops_prediction_batch_size',
      help: 'Instances per model call (several requests when micro-batching is on).',
      labelNames: ['model', 'version'] as const,
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    }),
    feedback: new Counter({
      name: FEEDBACK_TOTAL_METRIC,
      help: 'Observed clicks joined to a prediction of this version.',
      labelNames: ['model', 'version'] as const,
      registers,
    }),
    logLossSum: new Counter({
      name: FEEDBACK_LOG_LOSS_SUM_METRIC,
      help: 'Sum of the log loss of joined predictions against the observed click; divide by the feedback total.',
      labelNames: ['model', 'version'] as const,
      registers,
    }),
    logLossSquaredSum: new Counter({
      name: FEEDBACK_LOG_LOSS_SQUARED_SUM_METRIC,
      help: 'Sum of the squared log loss of joined predictions; with the sum and the feedback total gives its variance.',
      labelNames: ['model', 'version'] as const,
      registers,
    }),
    feedbackRejected: new Counter({
      name: 'mlops_feedback_rejected_total',
      help: 'Feedback items not counted, by reason (invalid id, expired, duplicate on this replica).',
      labelNames: ['reason'] as const,
      registers,
    }),
    logRecordsDropped: new Counter({
      name: 'mlops_log_records_dropped_total',
      help: 'Prediction or feedback log records dropped because the store could not keep up.',
      labelNames: ['stream'] as const,
      registers,
    }),
    shadow: createShadowMetrics(registers),
  };
}

/** Records one routed request. */
export function recordPrediction(
  metrics: PredictionMetrics,
  labels: { model: string; version: string; role: Role },
  outcome: PredictionOutcome,
  seconds: number,
): void {
  metrics.requests.inc({ ...labels, outcome });
  metrics.latency.observe(labels, seconds);
}

/** Records each predicted probability in the score histogram. */
export function recordScores(
  metrics: PredictionMetrics,
  labels: { model: string; version: string; role: Role },
  probabilities: ArrayLike<number>,
): void {
  for (let i = 0; i < probabilities.length; i++) metrics.score.observe(labels, probabilities[i] ?? 0);
}

/** Binary cross-entropy of probability `p` against label `clicked`, with p clipped to [ε, 1 − ε]. */
export function logLoss(p: number, clicked: 0 | 1): number {
  const clipped = Math.min(1 - LOG_LOSS_EPSILON, Math.max(LOG_LOSS_EPSILON, p));
  return clicked === 1 ? -Math.log(clipped) : -Math.log(1 - clipped);
}

/** Records one joined feedback item. */
export function recordFeedback(
  metrics: PredictionMetrics,
  labels: { model: string; version: string },
  probability: number,
  clicked: 0 | 1,
): void {
  const loss = logLoss(probability, clicked);
  metrics.feedback.inc(labels);
  metrics.logLossSum.inc(labels, loss);
  metrics.logLossSquaredSum.inc(labels, loss * loss);
}
