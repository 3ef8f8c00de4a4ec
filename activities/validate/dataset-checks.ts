/** Dataset-wide checks: bad rows against their threshold, enough rows, both labels in every split. */
import { percent, type Anomaly } from '../../lib/dataset/anomalies';
import type { DatasetStatistics } from '../../lib/dataset/statistics';

export interface DatasetCheckInput {
  dataUri: string;
  rowsRead: number;
  quarantinedRows: number;
  quarantineReasons: Record<string, number>;
  quarantineUri: string;
  /** data.maxBadRowFraction */
  maxBadRowFraction: number;
  /** data.minRows */
  minRows: number;
}

function describeReasons(reasons: Record<string, number>): string {
  return Object.entries(reasons)
    .map(([reason, count]) => `${count} × ${reason}`)
    .join(', ');
}

/** Anomalies of the dataset as a whole; row-level problems were quarantined by ingest and are weighed here. */
export function checkDataset(statistics: DatasetStatistics, input: DatasetCheckInput): Anomaly[] {
  const anomalies: Anomaly[] = [];
  // A header-only CSV has no bad rows either; it fails for having no rows, not for a fraction.
  const badRowFraction = input.rowsRead === 0 ? 0 : input.quarantinedRows / input.rowsRead;
  if (input.rowsRead === 0) {
    anomalies.push({
      severity: 'critical',
      kind: 'no_rows',
      message: `the CSV has a header but no rows (${input.dataUri})`,
    });
  }
  if (badRowFraction > input.maxBadRowFraction) {
    anomalies.push({
      severity: 'critical',
      kind: 'bad_rows',
      value: badRowFraction,
      threshold: input.maxBadRowFraction,
      message:
        `${input.quarantinedRows} of ${input.rowsRead} rows are bad (${percent(badRowFraction)} > ` +
        `maxBadRowFraction ${percent(input.maxBadRowFraction)}): ${describeReasons(input.quarantineReasons)}; ` +
        `see ${input.quarantineUri}`,
    });
  } else if (input.quarantinedRows > 0) {
    anomalies.push({
      severity: 'warning',
      kind: 'quarantined_rows',
      value: badRowFraction,
      threshold: input.maxBadRowFraction,
      message: `${input.quarantinedRows} rows quarantined (${describeReasons(input.quarantineReasons)}); see ${input.quarantineUri}`,
    });
  }
  if (statistics.rows < input.minRows) {
    anomalies.push({
      severity: 'critical',
      kind: 'too_few_rows',
      value: statistics.rows,
      threshold: input.minRows,
      message: `only ${statistics.rows} valid rows; at least ${input.minRows} are needed (data.minRows)`,
    });
  }
  for (const [split, { rows, labelCounts }] of Object.entries(statistics.splits)) {
    const clicks = labelCounts['1'] ?? 0;
    if (rows > 0 && (clicks === 0 || clicks === rows)) {
      anomalies.push({
        severity: 'critical',
        kind: 'single_label',
        feature: statistics.label,
        message: `the ${split} split has only one label (${clicks} clicks in ${rows} rows)`,
      });
    }
  }
  return anomalies;
}
