/**
 * Validate: decide whether an ingested dataset is fit to train on, and say exactly why not.
 * Row-level problems were quarantined by ingest; here they are weighed against thresholds.
 */
import { ApplicationFailure } from '@temporalio/common';
import { readShard } from '../lib/dataset/shards';
import { CATEGORICAL_FEATURES, NUMERIC_FEATURES, type AdExample } from '../lib/dataset/schema';
import { joinUri, writeJson } from '../lib/storage';
import { type ActivityDeps, stageUri } from './deps';
import type { IngestResult } from './ingest';

export interface ValidateInput {
  ingest: IngestResult;
  maxBadRowFraction: number;
  minRows: number;
}

export interface NumericStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
}

export interface ValidationReport {
  reportUri: string;
  validRows: number;
  badRows: number;
  badRowFraction: number;
  clickRate: number;
  numeric: Record<string, NumericStats>;
  vocabularies: Record<string, Record<string, number>>;
  warnings: string[];
}

function numericStats(values: number[]): NumericStats {
  const count = values.length;
  const mean = values.reduce((sum, value) => sum + value, 0) / Math.max(count, 1);
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / Math.max(count, 1);
  return { count, min: Math.min(...values), max: Math.max(...values), mean, std: Math.sqrt(variance) };
}

function countValues(values: string[]): Record<string, number> {
  return values.reduce<Record<string, number>>((counts, value) => {
    counts[value] = (counts[value] ?? 0) + 1;
    return counts;
  }, {});
}

function describeReasons(reasons: Record<string, number>): string {
  return Object.entries(reasons)
    .map(([reason, count]) => `${count} × ${reason}`)
    .join(', ');
}

export function createValidateActivities(deps: ActivityDeps) {
  return {
    /** Checks counts, labels and the bad-row fraction; fails non-retryably with every problem listed. */
    async validateDataset({ ingest, maxBadRowFraction, minRows }: ValidateInput): Promise<ValidationReport> {
      const [train, evaluation] = await Promise.all([readShard(ingest.trainUri), readShard(ingest.evalUri)]);
      const rows: AdExample[] = [...train.examples, ...evaluation.examples];
      // A header-only CSV has no bad rows either; it fails below for having no rows, not for a fraction.
      const badRowFraction = ingest.rowsRead === 0 ? 0 : ingest.quarantinedRows / ingest.rowsRead;
      const problems: string[] = [];
      const warnings: string[] = [];

      if (ingest.rowsRead === 0) problems.push(`the CSV has a header but no rows (${ingest.dataUri})`);
      if (badRowFraction > maxBadRowFraction) {
        problems.push(
          `${ingest.quarantinedRows} of ${ingest.rowsRead} rows are bad (${(badRowFraction * 100).toFixed(1)}% > ` +
            `maxBadRowFraction ${(maxBadRowFraction * 100).toFixed(1)}%): ${describeReasons(ingest.quarantineReasons)}; ` +
            `see ${ingest.quarantineUri}`,
        );
      } else if (ingest.quarantinedRows > 0) {
        warnings.push(
          `${ingest.quarantinedRows} rows quarantined (${describeReasons(ingest.quarantineReasons)}); see ${ingest.quarantineUri}`,
        );
      }
      if (rows.length < minRows)
        problems.push(`only ${rows.length} valid rows; at least ${minRows} are needed (data.minRows)`);
      for (const [split, examples] of [
        ['train', train.examples],
        ['eval', evaluation.examples],
      ] as const) {
        const clicks = examples.filter((example) => example.clicked === 1).length;
        if (examples.length > 0 && (clicks === 0 || clicks === examples.length)) {
          problems.push(
            `the ${split} split has only one label (${clicks} clicks in ${examples.length} rows)`,
          );
        }
      }

      const report: ValidationReport = {
        reportUri: joinUri(stageUri(deps.storeUri, 'validate'), 'report.json'),
        validRows: rows.length,
        badRows: ingest.quarantinedRows,
        badRowFraction,
        clickRate: rows.filter((example) => example.clicked === 1).length / Math.max(rows.length, 1),
        numeric: Object.fromEntries(
          NUMERIC_FEATURES.map((name) => [name, numericStats(rows.map((row) => row[name]))]),
        ),
        vocabularies: Object.fromEntries(
          CATEGORICAL_FEATURES.map((name) => [name, countValues(rows.map((row) => row[name]))]),
        ),
        warnings,
      };
      await writeJson(report.reportUri, { ...report, problems });
      if (problems.length > 0) {
        throw ApplicationFailure.create({
          nonRetryable: true,
          type: 'DataValidationFailed',
          message: `Data validation failed for ${ingest.dataUri}: ${problems.join('; ')}`,
          details: [{ problems, reportUri: report.reportUri }],
        });
      }
      return report;
    },
  };
}
