/** Streaming, mergeable statistics of one column: Welford moments, a bounded histogram, a bounded vocabulary. */
import { DataType, type Vector } from 'apache-arrow';
import { NumericHistogram } from './numeric-histogram';
import type { FeatureStatistics, FeatureType } from './statistics';

/**
 * Distinct values of one categorical column held in memory at most. Past it, new values are only
 * counted (as untracked), so a column with a value per row cannot hold the dataset in memory.
 */
export const MAX_TRACKED_VALUES = 100_000;

/** The coarse type a schema records: Int8 and Int32 are both 'int', Utf8 and Dictionary<Utf8> both 'string'. */
export function featureTypeOf(type: DataType): FeatureType {
  if (DataType.isInt(type)) return 'int';
  if (DataType.isFloat(type) || DataType.isDecimal(type)) return 'float';
  if (DataType.isBool(type)) return 'bool';
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type)) return 'string';
  if (DataType.isDictionary(type)) return featureTypeOf(type.dictionary as DataType);
  if (DataType.isBinary(type) || DataType.isLargeBinary(type) || DataType.isFixedSizeBinary(type))
    return 'bytes';
  return 'other';
}

/** Sort order of vocabularies: most frequent first, ties by value, so output is deterministic. */
export function byFrequency([a, countA]: [string, number], [b, countB]: [string, number]): number {
  return countB - countA || (a < b ? -1 : a > b ? 1 : 0);
}

export class FeatureAccumulator {
  /** Values present (not null). Rows where the column is null or absent count as missing. */
  count = 0;
  private readonly otherTypes = new Set<string>();
  // Welford's running mean and sum of squared deviations: one pass, no catastrophic cancellation.
  private mean = 0;
  private m2 = 0;
  private min = Infinity;
  private max = -Infinity;
  private readonly histogram?: NumericHistogram;
  private readonly values?: Map<string, number>;
  private untracked = 0;
  private byteLengths = { min: Infinity, max: -Infinity, sum: 0 };

  constructor(
    readonly type: FeatureType,
    readonly arrowType: string,
    /** An identifier (ad_id): counted, but no vocabulary is kept. */
    readonly identifier: boolean,
  ) {
    if (this.isNumeric) this.histogram = new NumericHistogram();
    if (type === 'string' && !identifier) this.values = new Map();
  }

  private get isNumeric(): boolean {
    return this.type === 'int' || this.type === 'float' || this.type === 'bool';
  }

  /** Adds one record batch's column; `type` is that batch's, which may disagree with the first one seen. */
  addVector(vector: Vector, type: FeatureType, arrowType: string): void {
    if (type !== this.type) {
      // Counted as missing here; the conflict itself is reported.
      this.otherTypes.add(`${type} (${arrowType})`);
      return;
    }
    for (let row = 0; row < vector.length; row++) {
      const value: unknown = vector.get(row);
      if (value === null || value === undefined) continue;
      this.addValue(value);
    }
  }

  private addValue(value: unknown): void {
    if (this.isNumeric) {
      const x = Number(value); // bigint (Int64) and boolean too
      if (!Number.isFinite(x)) return; // NaN and ±Infinity are missing values
      this.count += 1;
      const delta = x - this.mean;
      this.mean += delta / this.count;
      this.m2 += delta * (x - this.mean);
      if (x < this.min) this.min = x;
      if (x > this.max) this.max = x;
      this.histogram!.add(x);
      return;
    }
    this.count += 1;
    if (this.values) {
      const key = String(value);
      const seen = this.values.get(key);
      if (seen !== undefined) this.values.set(key, seen + 1);
      else if (this.values.size < MAX_TRACKED_VALUES) this.values.set(key, 1);
      else this.untracked += 1;
    } else if (this.type === 'bytes' && value instanceof Uint8Array) {
      const lengths = this.byteLengths;
      lengths.min = Math.min(lengths.min, value.length);
      lengths.max = Math.max(lengths.max, value.length);
      lengths.sum += value.length;
    }
  }

  /** Adds another accumulator of the same column (Chan et al.'s pairwise update for the moments). */
  merge(other: FeatureAccumulator): void {
    if (other.type !== this.type) {
      if (other.count > 0) this.otherTypes.add(`${other.type} (${other.arrowType})`);
      return;
    }
    for (const type of other.otherTypes) this.otherTypes.add(type);
    const total = this.count + other.count;
    if (this.isNumeric && total > 0) {
      const delta = other.mean - this.mean;
      this.m2 += other.m2 + (delta * delta * this.count * other.count) / total;
      this.mean += (delta * other.count) / total;
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
      this.histogram!.merge(other.histogram!);
    }
    this.count = total;
    if (this.values && other.values) {
      for (const [value, count] of other.values) {
        const seen = this.values.get(value);
        if (seen !== undefined) this.values.set(value, seen + count);
        else if (this.values.size < MAX_TRACKED_VALUES) this.values.set(value, count);
        else this.untracked += count;
      }
      this.untracked += other.untracked;
    }
    this.byteLengths = {
      min: Math.min(this.byteLengths.min, other.byteLengths.min),
      max: Math.max(this.byteLengths.max, other.byteLengths.max),
      sum: this.byteLengths.sum + other.byteLengths.sum,
    };
  }

  /** The JSON statistics, with every tracked value (see truncateVocabularies for top-K). */
  result(rows: number): FeatureStatistics {
    const stats: FeatureStatistics = {
      type: this.type,
      arrowType: this.arrowType,
      count: this.count,
      missing: rows - this.count,
    };
    if (this.identifier) stats.identifier = true;
    if (this.otherTypes.size > 0) stats.conflictingTypes = [...this.otherTypes].sort();
    if (this.isNumeric && this.count > 0) {
      stats.numeric = {
        min: this.min,
        max: this.max,
        mean: this.mean,
        std: Math.sqrt(this.m2 / this.count),
        histogram: this.histogram!.toJSON(),
      };
    }
    if (this.values) {
      stats.categorical = {
        distinct: this.values.size,
        top: [...this.values].sort(byFrequency),
        otherCount: this.untracked,
        ...(this.untracked > 0 ? { distinctIsLowerBound: true } : {}),
      };
    }
    if (this.type === 'bytes' && this.count > 0) {
      stats.bytes = {
        minLength: this.byteLengths.min,
        maxLength: this.byteLengths.max,
        meanLength: this.byteLengths.sum / this.count,
      };
    }
    return stats;
  }
}
