/** Turns samples of the prediction server's metrics into per-version counters, whichever way they were read. */
import {
  FEEDBACK_LOG_LOSS_SQUARED_SUM_METRIC,
  FEEDBACK_LOG_LOSS_SUM_METRIC,
  FEEDBACK_TOTAL_METRIC,
  PREDICTION_LATENCY_METRIC,
  PREDICTION_REQUESTS_METRIC,
  PREDICTION_SCORE_METRIC,
} from '../../lib/registry/deployment';
import type { PrometheusSample } from './prometheus-samples';
import { emptyTraffic, type VersionCounters } from '../../contracts/traffic-window';

/** The metric names canary analysis reads. */
export const TRAFFIC_METRIC_NAMES = [
  PREDICTION_REQUESTS_METRIC,
  `${PREDICTION_LATENCY_METRIC}_bucket`,
  `${PREDICTION_SCORE_METRIC}_bucket`,
  FEEDBACK_TOTAL_METRIC,
  FEEDBACK_LOG_LOSS_SUM_METRIC,
  FEEDBACK_LOG_LOSS_SQUARED_SUM_METRIC,
];

/** Per-version counters of one model from one source's samples. */
export function countersFromSamples(samples: PrometheusSample[], model: string): VersionCounters {
  const counters: VersionCounters = {};
  for (const { name, labels, value } of samples) {
    if (labels.model !== model || labels.version === undefined) continue;
    // Requests that named their version are outside the split the canary is judged on.
    if (labels.role === 'pinned') continue;
    const entry = (counters[labels.version] ??= emptyTraffic());
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
