/** Simulated client traffic against the prediction API, driven by autocannon at a steady rate. */
import autocannon from 'autocannon';
import type { FeedbackSender } from './feedback-sender';
import type { TrafficSample } from './samples';

export interface TrafficOptions {
  baseUrl: string;
  model: string;
  samples: TrafficSample[];
  /** Requests per second over all connections. */
  rate: number;
  connections?: number;
  /** When given, every answered prediction is reported to it so a click can be fed back later. */
  feedback?: FeedbackSender;
}

export interface TrafficReport {
  requests: number;
  ok: number;
  failed: number;
  errors: number;
  p99LatencyMs: number;
}

export interface RunningTraffic {
  /** Stops sending and reports what was sent. */
  stop(): Promise<TrafficReport>;
}

export function startTraffic(options: TrafficOptions): RunningTraffic {
  const path = `/v1/models/${encodeURIComponent(options.model)}:predict`;
  let stopInstance: () => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.baseUrl,
        connections: options.connections ?? 4,
        overallRate: options.rate,
        duration: 24 * 3600,
        requests: options.samples.map((sample) => ({
          method: 'POST' as const,
          path,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: [sample.instance] }),
          onResponse: (status: number, body: string) => {
            if (status !== 200 || !options.feedback) return;
            const id = (JSON.parse(body) as { predictions?: Array<{ prediction_id?: string }> })
              .predictions?.[0]?.prediction_id;
            if (id) options.feedback.observe(sample.id, id);
          },
        })),
      },
      (err: Error | null, result) => (err ? reject(err) : resolve(result)),
    );
    stopInstance = () => instance.stop();
  });
  return {
    async stop() {
      stopInstance();
      const result = await done;
      return {
        requests: result.requests.total,
        ok: result['2xx'],
        failed: result.non2xx,
        errors: result.errors + result.timeouts,
        p99LatencyMs: result.latency.p99,
      };
    },
  };
}
