/**
 * The metric catalog: every metric evaluation computes for a model, overall and per slice, with how
 * to name and read it. The Markdown and HTML reports, the reviewer's Web UI details and the CLI list
 * metrics from here, so adding one is its computation (lib/model/metrics.ts) plus one entry below.
 * Pure and workflow-safe.
 */
import type { BestPossibleMetrics, EvaluationSummary } from './evaluation';

export interface MetricDefinition {
  /** Its field in every metrics record: SliceMetrics, ModelMetrics, the registry's metrics. */
  key: string;
  /** Short name, for table columns and one-line summaries. */
  label: string;
  /** The name with how to read it, for the reports' overall tables. */
  description: string;
  /** The CLI shows it as a percentage (a share of examples, like accuracy). */
  asPercent?: boolean;
}

export const METRICS = [
  { key: 'auc', label: 'AUC', description: 'AUC (higher is better)' },
  { key: 'logLoss', label: 'log loss', description: 'log loss (lower is better)' },
  { key: 'accuracy', label: 'accuracy', description: 'accuracy at 0.5', asPercent: true },
  { key: 'ece', label: 'ECE', description: 'ECE, 10 bins (lower is better)' },
] as const satisfies readonly MetricDefinition[];

export type MetricKey = (typeof METRICS)[number]['key'];

/** Every catalog metric of one model on one set of examples; AUC is null where the set has one class only. */
export type MetricValues = { [K in MetricKey]: K extends 'auc' ? number | null : number };

/** Some of the catalog's metrics: what summaries written before a metric existed hold. */
export type PartialMetricValues = { [K in MetricKey]?: number };

/** Just the catalog's metrics of a larger record, in catalog order. */
export function catalogValues(source: MetricValues): MetricValues {
  return Object.fromEntries(METRICS.map(({ key }) => [key, source[key]])) as MetricValues;
}

/** A metric with 4 decimals, or '—' when undefined (no production, or AUC of a one-class slice). */
export function formatMetric(value: number | null | undefined): string {
  return value === undefined || value === null ? '—' : value.toFixed(4);
}

/** A signed difference with 4 decimals, or '—' when either side is missing. */
export function formatDelta(
  candidate: number | null | undefined,
  production: number | null | undefined,
): string {
  if (candidate === undefined || candidate === null || production === undefined || production === null)
    return '—';
  const delta = candidate - production;
  return `${delta >= 0 ? '+' : '-'}${Math.abs(delta).toFixed(4)}`;
}

/** One sentence comparing the candidate's AUC with the best possible, or undefined when that is unknown. */
export function bestPossibleSentence(
  evaluation: Pick<EvaluationSummary, 'candidate'> & { bestPossible?: BestPossibleMetrics },
): string | undefined {
  const best = evaluation.bestPossible;
  if (!best) return undefined;
  const { auc } = evaluation.candidate;
  const gap = best.auc - auc;
  const comparison =
    gap >= 0
      ? `${gap.toFixed(4)} below it` +
        // How far from a coin flip (0.5) to the best possible the candidate has come.
        (best.auc > 0.5 && auc >= 0.5
          ? `, ${(((auc - 0.5) / (best.auc - 0.5)) * 100).toFixed(0)}% of the way from a coin flip`
          : '')
      : `${(-gap).toFixed(4)} above it (chance, on a small split)`;
  return (
    `Best possible AUC on these ${best.count} rows (the true click probabilities): ${formatMetric(best.auc)}, ` +
    `log loss ${formatMetric(best.logLoss)}; the candidate's AUC ${formatMetric(auc)} is ${comparison}.`
  );
}
