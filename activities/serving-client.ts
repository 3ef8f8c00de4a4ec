/** Talks to prediction server replicas: reload them, ask what they serve, read their metrics. */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { PREDICTION_REQUESTS_METRIC } from '../lib/deployment';

/** Requests and errors per model version, summed over every replica. */
export type TrafficSnapshot = Record<string, { requests: number; errors: number }>;

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

/** Reads one replica's request counters for a model from its Prometheus endpoint. */
export async function readReplicaTraffic(baseUrl: string, model: string): Promise<TrafficSnapshot> {
  const text = await (await fetchOk(`${baseUrl}/metrics`)).text();
  const family = parsePrometheusTextFormat(text).find((metric) => metric.name === PREDICTION_REQUESTS_METRIC);
  const snapshot: TrafficSnapshot = {};
  for (const sample of family?.metrics ?? []) {
    const labels = sample.labels ?? {};
    if (labels.model !== model || labels.version === undefined) continue;
    const entry = (snapshot[labels.version] ??= { requests: 0, errors: 0 });
    const value = Number(sample.value ?? 0);
    entry.requests += value;
    if (labels.outcome === 'error') entry.errors += value;
  }
  return snapshot;
}

/** Sums snapshots from several replicas. */
export function sumSnapshots(snapshots: TrafficSnapshot[]): TrafficSnapshot {
  const total: TrafficSnapshot = {};
  for (const snapshot of snapshots) {
    for (const [version, counts] of Object.entries(snapshot)) {
      const entry = (total[version] ??= { requests: 0, errors: 0 });
      entry.requests += counts.requests;
      entry.errors += counts.errors;
    }
  }
  return total;
}
