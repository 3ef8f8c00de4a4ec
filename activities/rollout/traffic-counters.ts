/** Turns samples of the prediction server's metrics into per-version counters, whichever way they were read. */
import {
  FEEDBACK_LOG_LOSS_SQUARED_SUM_METRIC,
  FEEDBACK_LOG_LOSS_SUM_METRIC,
  FEEDBACK_TOTAL_METRIC,
  PREDICTION_LATENCY_METRIC,
  PREDICTION_REQUESTS_METRIC,
  PREDICTION_SCORE_METRIC,
  SHADOW_DROPPED_METRIC,
  SHADOW_FEEDBACK_METRIC,
  SHADOW_LATENCY_METRIC,
  SHADOW_LOG_LOSS_DIFF_SQUARED_SUM_METRIC,
  SHADOW_LOG_LOSS_DIFF_SUM_METRIC,
  SHADOW_PAIRS_METRIC,
  SHADOW_REQUESTS_METRIC,
  SHADOW_SCORE_DIFF_SQUARED_SUM_METRIC,
  SHADOW_SCORE_DIFF_SUM_METRIC,
} from '../../lib/registry/deployment';
import type { PrometheusSample } from './prometheus-samples';
import {
  emptyShadowTraffic,
  emptyTraffic,
  type ShadowTraffic,
  type VersionCounters,
} from '../../contracts/traffic-window';

/** The metric names canary analysis reads. */
export const TRAFFIC_METRIC_NAMES = [
  PREDICTION_REQUESTS_METRIC,
  `${PREDICTION_LATENCY_METRIC}_bucket`,
  `${PREDICTION_SCORE_METRIC}_bucket`,
  FEEDBACK_TOTAL_METRIC,
  FEEDBACK_LOG_LOSS_SUM_METRIC,
  FEEDBACK_LOG_LOSS_SQUARED_SUM_METRIC,
  SHADOW_REQUESTS_METRIC,
  SHADOW_DROPPED_METRIC,
  `${SHADOW_LATENCY_METRIC}_bucket`,
  SHADOW_PAIRS_METRIC,
  SHADOW_SCORE_DIFF_SUM_METRIC,
  SHADOW_SCORE_DIFF_SQUARED_SUM_METRIC,
  SHADOW_FEEDBACK_METRIC,
  SHADOW_LOG_LOSS_DIFF_SUM_METRIC,
  SHADOW_LOG_LOSS_DIFF_SQUARED_SUM_METRIC,
];

/** Adds one shadow sample into a version's shadow counters; false when the sample is not a shadow metric. */
function addShadowSample(
  shadow: () => ShadowTraffic,
  name: string,
  labels: Record<string, string>,
  value: number,
): boolean {
  const sums: Record<string, keyof ShadowTraffic> = {
    [SHADOW_DROPPED_METRIC]: 'dropped',
    [SHADOW_PAIRS_METRIC]: 'pairs',
    [SHADOW_SCORE_DIFF_SUM_METRIC]: 'scoreDiffSum',
    [SHADOW_SCORE_DIFF_SQUARED_SUM_METRIC]: 'scoreDiffSquaredSum',
    [SHADOW_FEEDBACK_METRIC]: 'feedback',
    [SHADOW_LOG_LOSS_DIFF_SUM_METRIC]: 'logLossDiffSum',
    [SHADOW_LOG_LOSS_DIFF_SQUARED_SUM_METRIC]: 'logLossDiffSquaredSum',
  };
  if (name === SHADOW_REQUESTS_METRIC) {
    const entry = shadow();
    entry.requests += value;
    if (labels.outcome === 'error') entry.errors += value;
    return true;
  }
  if (name === `${SHADOW_LATENCY_METRIC}_bucket`) {
    if (labels.le === undefined) return true;
    const entry = shadow();
    const buckets = labels.side === 'stable' ? entry.stableLatencyBuckets : entry.shadowLatencyBuckets;
    buckets[labels.le] = (buckets[labels.le] ?? 0) + value;
    return true;
  }
  const field = sums[name];
  if (field === undefined) return false;
  const entry = shadow();
  (entry[field] as number) += value;
  return true;
}

/** Per-version counters of one model from one source's samples. */
export function countersFromSamples(samples: PrometheusSample[], model: string): VersionCounters {
  const counters: VersionCounters = {};
  for (const { name, labels, value } of samples) {
    if (labels.model !== model || labels.version === undefined) continue;
    // Requests that named their version are outside the split the canary is judged on.
    if (labels.role === 'pinned') continue;
    const entry = (counters[labels.version] ??= emptyTraffic());
    if (addShadowSample(() => (entry.shadow ??= emptyShadowTraffic()), name, labels, value)) continue;
    switch (name) {
      case PREDICTION_REQUESTS_METRIC:
        entry.requests += value;
        if (labels.outcome === 'error') entry.errors += value;
        break;
      case `${PREDICTION_LATENCY_METRIC}_bucket`:
        if (labels.le !== undefined)
          entry.latencyBuckets[labels.le] = (entry.latencyBuckets[labels.le] ?? 0) + value;
        break;
      case `${PREDICTION_SCORE_METRIC}_bucket`:
        if (labels.le !== undefined)
          entry.scoreBuckets[labels.le] = (entry.scoreBuckets[labels.le] ?? 0) + value;
        break;
      case FEEDBACK_TOTAL_METRIC:
        entry.feedback += value;
        break;
      case FEEDBACK_LOG_LOSS_SUM_METRIC:
        entry.logLossSum += value;
        break;
      case FEEDBACK_LOG_LOSS_SQUARED_SUM_METRIC:
        // Left undefined when a replica does not export it (an older server): unknown, not zero.
        entry.logLossSquaredSum = (entry.logLossSquaredSum ?? 0) + value;
        break;
    }
  }
  return counters;
}
