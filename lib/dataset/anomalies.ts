/** What data validation finds: anomalies with a severity, in the manner of TFX's ExampleValidator. */

/** `critical` fails the pipeline; `warning` is returned, shown to the reviewer and recorded with the model. */
export type AnomalySeverity = 'critical' | 'warning';

export type AnomalyKind =
  | 'no_rows'
  | 'bad_rows'
  | 'quarantined_rows'
  | 'too_few_rows'
  | 'single_label'
  | 'missing_column'
  | 'new_column'
  | 'type_change'
  | 'mixed_types'
  | 'missing_values'
  | 'out_of_vocabulary'
  | 'out_of_range'
  | 'unknown_label'
  | 'drift'
  | 'drift_not_measured';

export interface Anomaly {
  severity: AnomalySeverity;
  kind: AnomalyKind;
  /** The column concerned; absent for dataset-wide anomalies. */
  feature?: string;
  /** A sentence a person can act on: what was seen, what was expected, which setting decides. */
  message: string;
  /** The measured quantity (a fraction, a divergence) when there is one, with the threshold it crossed. */
  value?: number;
  threshold?: number;
}

/** A value's level against a warning and a critical threshold: strictly above a threshold crosses it. */
export function severityOf(
  value: number,
  thresholds: { warning: number; critical: number },
): AnomalySeverity | undefined {
  if (value > thresholds.critical) return 'critical';
  if (value > thresholds.warning) return 'warning';
  return undefined;
}

/** Critical anomalies first, each group in the order found. */
export function sortAnomalies(anomalies: readonly Anomaly[]): Anomaly[] {
  const rank = (anomaly: Anomaly) => (anomaly.severity === 'critical' ? 0 : 1);
  return [...anomalies].sort((a, b) => rank(a) - rank(b));
}

/** A percentage with one decimal, for messages. */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
