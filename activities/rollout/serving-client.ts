/** Talks to prediction server replicas: reload them, ask what they serve, read their metrics. */
import { parsePrometheusSamples } from './prometheus-samples';
import type { TrafficSnapshot } from '../../contracts/traffic-window';
import { countersFromSamples } from './traffic-counters';

export type { TrafficSnapshot } from '../../contracts/traffic-window';

async function fetchOk(url: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  if (!response.ok) {
    throw new Error(`${init.method ?? 'GET'} ${url} answered ${response.status}: ${await response.text()}`);
  }
  return response;
}

/** Asks a replica to re-read deployments now instead of at its next poll. */
export async function reloadReplica(baseUrl: string, adminToken: string): Promise<void> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/admin/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(5_000),
    });
  } catch {
    return; // Unreachable: the convergence loop keeps waiting for it to come back and poll the store.
  }
  if (response.ok) return;
  const body = (await response.json().catch(() => undefined)) as
    { error?: unknown; code?: unknown } | undefined;
  // A replica that cannot load the new state says why; waiting for it would only time out.
  const reason = typeof body?.error === 'string' ? body.error : '';
  throw new Error(
    `replica ${baseUrl} cannot serve the new deployment: ${typeof body?.code === 'string' ? body.code : response.status} ${reason}`.trim(),
  );
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

/** One replica's counters for a model, keyed by its URL and process start time (a restart is a new source). */
export async function readReplicaTraffic(baseUrl: string, model: string): Promise<TrafficSnapshot> {
  const samples = parsePrometheusSamples(await (await fetchOk(`${baseUrl}/metrics`)).text());
  const startTime = samples.find((sample) => sample.name === 'process_start_time_seconds')?.value ?? 0;
  return { [`${baseUrl}@${startTime}`]: countersFromSamples(samples, model) };
}
