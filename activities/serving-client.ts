/** Talks to prediction server replicas: reload them, ask what they serve, read their metrics. */
import {
  FEEDBACK_LOG_LOSS_SUM_METRIC,
  FEEDBACK_TOTAL_METRIC,
  PREDICTION_LATENCY_METRIC,
  PREDICTION_REQUESTS_METRIC,
  PREDICTION_SCORE_METRIC,
} from '../lib/deployment';
import { parsePrometheusSamples } from '../lib/prometheus-samples';
import { addBuckets, addTraffic, emptyTraffic, type TrafficSnapshot } from '../workflows/traffic-window';

export type { TrafficSnapshot } from '../workflows/traffic-window';

async function fetchOk(url: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  if (!response.ok) {
    throw new Error(`${init.method ?? 'GET'} ${url} answered ${response.status}: ${await response.text()}`);
  }
  return response;
}

/** Asks a replica to re-read deployments now instead of at its next poll. */
export async function reloadReplica(baseUrl: string, adminToken: string): Promise<void> {
  await fetchOk(`${baseUrl}/admin/reload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}` },
  });
}

/** The deployment revision a replica currently serves for a model (0 when none). */
export async function servedRevision(baseUrl: string, model: string): Promise<number> {
  const response = await fetch(`${baseUrl}/v1/models/${encodeURIComponent(model)}`, {
    signal: AbortSignal.timeout(5_000),
  });
  if (response.status === 404 || response.status === 503) return 0;
  if (!response.ok) throw new Error(`GET ${baseUrl}/v1/models/${model} answered ${response.status}`);
  const body = (await response.json()) as { deployment_revision?: number };
  return body.deployment_revision ?? 0;
}

/** Reads one replica's counters and histograms for a model from its Prometheus endpoint. */
export async function readReplicaTraffic(baseUrl: string, model: string): Promise<TrafficSnapshot> {
  const text = await (await fetchOk(`${baseUrl}/metrics`)).text();
  const snapshot: TrafficSnapshot = {};
  for (const { name, labels, value } of parsePrometheusSamples(text)) {
    if (labels.model !== model || labels.version === undefined) continue;
    const entry = (snapshot[labels.version] ??= emptyTraffic());
    switch (name) {
      case PREDICTION_REQUESTS_METRIC:
        entry.requests += value;
        if (labels.outcome === 'error') entry.errors += value;
        break;
      case `${PREDICTION_LATENCY_METRIC}_bucket`:
        if (labels.le !== undefined)
          entry.latencyBuckets = addBuckets(entry.latencyBuckets, { [labels.le]: value });
        break;
      case `${PREDICTION_SCORE_METRIC}_bucket`:
        if (labels.le !== undefined)
          entry.scoreBuckets = addBuckets(entry.scoreBuckets, { [labels.le]: value });
        break;
      case FEEDBACK_TOTAL_METRIC:
        entry.feedback += value;
        break;
      case FEEDBACK_LOG_LOSS_SUM_METRIC:
        entry.logLossSum += value;
        break;
    }
  }
  return snapshot;
}

/** Sums snapshots from several replicas. */
export function sumSnapshots(snapshots: TrafficSnapshot[]): TrafficSnapshot {
  const total: TrafficSnapshot = {};
  for (const snapshot of snapshots) {
    for (const [version, traffic] of Object.entries(snapshot)) {
      total[version] = addTraffic(total[version] ?? emptyTraffic(), traffic);
    }
  }
  return total;
}
