/**
 * Reads the canary's counters from a Prometheus server instead of the replicas themselves: the
 * same cumulative series, summed over every replica it scrapes. Results lag by a scrape interval.
 */
import { z } from 'zod';
import type { PrometheusSample } from './prometheus-samples';
import type { TrafficSnapshot } from '../../contracts/traffic-window';
import { countersFromSamples, TRAFFIC_METRIC_NAMES } from './traffic-counters';

const instantVectorSchema = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('vector'),
    result: z.array(
      z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) }),
    ),
  }),
});

type Series = { labels: Record<string, string>; value: number };

/** Runs one PromQL instant query; fails with Prometheus's own error text. */
export async function queryPrometheus(prometheusUrl: string, query: string): Promise<Series[]> {
  const url = `${prometheusUrl.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const body: unknown = await response.json().catch(() => undefined);
  const parsed = instantVectorSchema.safeParse(body);
  if (!response.ok || !parsed.success) {
    throw new Error(`Prometheus query failed (${response.status}) for ${query}: ${JSON.stringify(body)}`);
  }
  return parsed.data.data.result.map((series) => ({ labels: series.metric, value: Number(series.value[1]) }));
}

/** Escapes a label value for a PromQL string literal. */
function promString(value: string): string {
  return JSON.stringify(value);
}

/**
 * The model's counters per scraped instance (and process start time, so restarts are new
 * sources), read as raw series so the analysis differences them exactly as it does replicas'.
 */
export async function readPrometheusTraffic(prometheusUrl: string, model: string): Promise<TrafficSnapshot> {
  const names = TRAFFIC_METRIC_NAMES.join('|');
  const [series, startTimes] = await Promise.all([
    queryPrometheus(prometheusUrl, `{__name__=~${promString(names)}, model=${promString(model)}}`),
    queryPrometheus(prometheusUrl, 'process_start_time_seconds'),
  ]);
  const startOf = new Map(startTimes.map(({ labels, value }) => [labels.instance, value]));
  const samplesBySource = new Map<string, PrometheusSample[]>();
  for (const { labels, value } of series) {
    const { __name__: name, ...rest } = labels;
    if (!name) continue;
    const source = `${labels.instance ?? 'prometheus'}@${startOf.get(labels.instance) ?? 0}`;
    samplesBySource.set(source, [...(samplesBySource.get(source) ?? []), { name, labels: rest, value }]);
  }
  return Object.fromEntries(
    [...samplesBySource].map(([source, samples]) => [source, countersFromSamples(samples, model)]),
  );
}
