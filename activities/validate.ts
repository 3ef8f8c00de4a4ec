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
  /** The {@link TOP_VOCABULARY_VALUES} most frequent values per feature; report.json holds them all. */
  vocabularies: Record<string, Record<string, number>>;
  /** How many distinct values each categorical feature has. */
  distinctValues: Record<string, number>;
  warnings: string[];
}

/**
 * How many values per feature the returned report keeps: it goes into workflow history, where
 * a high-cardinality column would otherwise push the payload past Temporal's 2 MB limit.
 */
export const TOP_VOCABULARY_VALUES = 50;

/** Count, range, mean and population standard deviation, in loops so no array size overflows the stack. */
export function numericStats(values: readonly number[]): NumericStats {
  const count = values.length;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    sum += value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const mean = sum / Math.max(count, 1);
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  return { count, min, max, mean, std: Math.sqrt(squares / Math.max(count, 1)) };
}

/** The `limit` most frequent values, ties broken by value so the result is deterministic. */
export function topValues(counts: Record<string, number>, limit: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts)
      .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit),
  );
}

function countValues(values: string[]): Record<string, number> {
  // A Map, because a value such as "__proto__" would corrupt a plain-object counter.
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return Object.fromEntries(counts);
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

      const vocabularies = Object.fromEntries(
        CATEGORICAL_FEATURES.map((name) => [name, countValues(rows.map((row) => row[name]))]),
      );
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
          Object.entries(vocabularies).map(([name, counts]) => [
            name,
            topValues(counts, TOP_VOCABULARY_VALUES),
          ]),
        ),
        distinctValues: Object.fromEntries(
          Object.entries(vocabularies).map(([name, counts]) => [name, Object.keys(counts).length]),
        ),
        warnings,
      };
      await writeJson(report.reportUri, { ...report, vocabularies, problems });
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
