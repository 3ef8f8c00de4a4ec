/**
 * Per-feature statistics of a dataset's shards, in the manner of TFX's StatisticsGen: one streamed
 * pass over every record batch, memory bounded whatever the dataset's size, written as
 * statistics.json, which later datasets are checked and compared against.
 */
import type { DataType, RecordBatch } from 'apache-arrow';
import type { FeatureSpec } from '../../contracts/feature-spec';
import { FeatureAccumulator, featureTypeOf } from './feature-accumulator';
import type { HistogramJson } from './numeric-histogram';
import { streamRecordBatches } from './record-batches';

/** Format tag of statistics.json; readers refuse other formats rather than misread them. */
export const STATISTICS_FORMAT = 'mlops-statistics/1';
/** Distinct label values tracked at most; a label column with more is broken anyway. */
const MAX_LABEL_VALUES = 100;

export type FeatureType = 'int' | 'float' | 'bool' | 'string' | 'bytes' | 'other';

export interface NumericStatistics {
  min: number;
  max: number;
  mean: number;
  /** Population standard deviation. */
  std: number;
  /** Bounded histogram (exact for up to 2048 distinct values): quantiles and PSI bins come from it. */
  histogram: HistogramJson;
}

export interface CategoricalStatistics {
  /** Distinct values seen (a lower bound when distinctIsLowerBound). */
  distinct: number;
  distinctIsLowerBound?: true;
  /** Most frequent values first, as [value, count]; statistics.json keeps the top K. */
  top: Array<[value: string, count: number]>;
  /** Occurrences of the values not in `top`. */
  otherCount: number;
}

export interface FeatureStatistics {
  type: FeatureType;
  /** Arrow's name of the column's type, for messages. */
  arrowType: string;
  /** Rows with a value. */
  count: number;
  /** Rows whose value is null or NaN, or whose shard lacks the column. */
  missing: number;
  identifier?: true;
  /** Other types the same column had in some shards: those values count as missing. */
  conflictingTypes?: string[];
  numeric?: NumericStatistics;
  categorical?: CategoricalStatistics;
  bytes?: { minLength: number; maxLength: number; meanLength: number };
}

export interface SplitStatistics {
  rows: number;
  /** Rows per label value ("0", "1"). */
  labelCounts: Record<string, number>;
}

export interface DatasetStatistics {
  format: typeof STATISTICS_FORMAT;
  rows: number;
  label: string;
  labelCounts: Record<string, number>;
  /** Fraction of labelled rows whose label is 1. */
  positiveRate: number;
  splits: Record<string, SplitStatistics>;
  /** Every column, in the order of the first shard's schema. */
  features: Record<string, FeatureStatistics>;
}

/** Shards of one split (train, eval). */
export interface StatisticsSplit {
  name: string;
  shardUris: readonly string[];
}

export interface ComputeStatisticsOptions {
  /** The spec the shards follow: its label column, and the columns to keep no vocabulary of. */
  spec: FeatureSpec;
  /** Shards read at once, each into its own accumulator, merged at the end. */
  concurrency?: number;
  /** Called after every record batch, for heartbeats. */
  onProgress?: (progress: { shardsDone: number; shards: number; rows: number }) => void;
}

function increment(counts: Map<string, number>, key: string, by = 1): void {
  const seen = counts.get(key);
  if (seen !== undefined) counts.set(key, seen + by);
  else if (counts.size < MAX_LABEL_VALUES) counts.set(key, by);
}

/** Statistics of many record batches; two accumulators of disjoint shards merge into one of both. */
class DatasetAccumulator {
  rows = 0;
  private readonly features = new Map<string, FeatureAccumulator>();
  private readonly splits = new Map<string, { rows: number; labelCounts: Map<string, number> }>();

  constructor(
    private readonly label: string,
    private readonly identifierColumns: ReadonlySet<string>,
  ) {}

  addBatch(batch: RecordBatch, split: string): void {
    this.rows += batch.numRows;
    const splitStats = this.splitOf(split);
    splitStats.rows += batch.numRows;
    batch.schema.fields.forEach((field, index) => {
      const type = featureTypeOf(field.type as DataType);
      const arrowType = String(field.type);
      let feature = this.features.get(field.name);
      if (!feature) {
        feature = new FeatureAccumulator(type, arrowType, this.identifierColumns.has(field.name));
        this.features.set(field.name, feature);
      }
      const vector = batch.getChildAt(index);
      if (!vector) return;
      feature.addVector(vector, type, arrowType);
      if (field.name === this.label) {
        for (let row = 0; row < vector.length; row++) {
          const value: unknown = vector.get(row);
          if (value !== null && value !== undefined) increment(splitStats.labelCounts, String(Number(value)));
        }
      }
    });
  }

  merge(other: DatasetAccumulator): void {
    this.rows += other.rows;
    for (const [name, feature] of other.features) {
      const mine = this.features.get(name);
      if (mine) mine.merge(feature);
      else this.features.set(name, feature);
    }
    for (const [name, split] of other.splits) {
      const mine = this.splitOf(name);
      mine.rows += split.rows;
      for (const [value, count] of split.labelCounts) increment(mine.labelCounts, value, count);
    }
  }

  result(): DatasetStatistics {
    const splits: Record<string, SplitStatistics> = {};
    const labelCounts = new Map<string, number>();
    for (const [name, split] of this.splits) {
      splits[name] = { rows: split.rows, labelCounts: Object.fromEntries([...split.labelCounts].sort()) };
      for (const [value, count] of split.labelCounts) increment(labelCounts, value, count);
    }
    const labelled = [...labelCounts.values()].reduce((sum, count) => sum + count, 0);
    return {
      format: STATISTICS_FORMAT,
      rows: this.rows,
      label: this.label,
      labelCounts: Object.fromEntries([...labelCounts].sort()),
      positiveRate: labelled === 0 ? 0 : (labelCounts.get('1') ?? 0) / labelled,
      splits,
      features: Object.fromEntries(
        [...this.features].map(([name, feature]) => [name, feature.result(this.rows)]),
      ),
    };
  }

  private splitOf(name: string) {
    let split = this.splits.get(name);
    if (!split) {
      split = { rows: 0, labelCounts: new Map() };
      this.splits.set(name, split);
    }
    return split;
  }
}

/**
 * Columns counted and type-checked but with no vocabulary kept, checked or compared: the id, whose
 * every value is new, and free text, whose every value is nearly so.
 */
export function identifierColumns(spec: FeatureSpec): string[] {
  return [
    ...(spec.id ? [spec.id] : []),
    ...spec.features.filter((feature) => feature.kind === 'text').map((feature) => feature.column),
  ];
}

/**
 * Streams every shard of every split once, `concurrency` shards at a time, and returns statistics
 * with every tracked vocabulary value (truncateVocabularies trims them for storage).
 */
export async function computeStatistics(
  splits: readonly StatisticsSplit[],
  options: ComputeStatisticsOptions,
): Promise<DatasetStatistics> {
  const { spec } = options;
  const identifiers = new Set(identifierColumns(spec));
  const shards = splits.flatMap(({ name, shardUris }) => shardUris.map((uri) => ({ split: name, uri })));
  const workers = Math.max(1, Math.min(options.concurrency ?? 2, shards.length));
  const accumulators = Array.from(
    { length: workers },
    () => new DatasetAccumulator(spec.label.column, identifiers),
  );
  let next = 0;
  let shardsDone = 0;
  const rowsSoFar = () => accumulators.reduce((sum, accumulator) => sum + accumulator.rows, 0);
  await Promise.all(
    accumulators.map(async (accumulator) => {
      // Worker 0 takes shard 0 first, so the merged columns keep the first shard's order.
      while (next < shards.length) {
        const shard = shards[next++]!;
        for await (const batch of streamRecordBatches(shard.uri)) {
          accumulator.addBatch(batch, shard.split);
          options.onProgress?.({ shardsDone, shards: shards.length, rows: rowsSoFar() });
        }
        shardsDone += 1;
      }
    }),
  );
  const [first, ...rest] = accumulators;
  for (const accumulator of rest) first!.merge(accumulator);
  return first!.result();
}

/** Statistics as stored: each vocabulary cut to its `topK` most frequent values, the rest in otherCount. */
export function truncateVocabularies(statistics: DatasetStatistics, topK: number): DatasetStatistics {
  const features = Object.fromEntries(
    Object.entries(statistics.features).map(([name, feature]) => {
      const vocabulary = feature.categorical;
      if (!vocabulary || vocabulary.top.length <= topK) return [name, feature];
      const kept = vocabulary.top.slice(0, topK);
      const dropped = vocabulary.top.slice(topK).reduce((sum, [, count]) => sum + count, 0);
      return [
        name,
        {
          ...feature,
          categorical: { ...vocabulary, top: kept, otherCount: vocabulary.otherCount + dropped },
        },
      ];
    }),
  );
  return { ...statistics, features };
}

/** A categorical feature's counts as a Map (safe for any value, "__proto__" included). */
export function vocabularyOf(feature: FeatureStatistics): Map<string, number> {
  return new Map(feature.categorical?.top ?? []);
}
