/** Prometheus metrics of the prediction server, on a registry of its own so several servers can share a process. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PREDICTION_LATENCY_METRIC, PREDICTION_REQUESTS_METRIC } from '../lib/deployment';
import type { Role } from './router';

/** success: the model answered; error: the request failed on the server side after routing. */
export type PredictionOutcome = 'success' | 'error';

/** Latency buckets in seconds: fine from 1 ms so canary analysis can compare quantiles of fast models. */
export const LATENCY_BUCKETS = [
  0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1,
  1.5, 2, 3, 5,
];

/** The registry and the instruments the predict route records into. */
export interface PredictionMetrics {
  registry: Registry;
  requests: Counter<'model' | 'version' | 'role' | 'outcome'>;
  latency: Histogram<'model' | 'version' | 'role'>;
}

/** Creates a fresh registry with default process metrics and the prediction counters. */
export function createPredictionMetrics(): PredictionMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: PREDICTION_REQUESTS_METRIC,
    help: 'Prediction requests routed to a model version, by outcome.',
    labelNames: ['model', 'version', 'role', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: PREDICTION_LATENCY_METRIC,
    help: 'Time from routing a prediction request to its answer, in seconds.',
    labelNames: ['model', 'version', 'role'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  return { registry, requests, latency };
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
