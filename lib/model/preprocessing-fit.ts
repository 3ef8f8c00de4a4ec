/**
 * Fits preprocessing in one streaming pass: vocabularies and numeric mean / standard deviation
 * accumulated chunk by chunk, so a training split of any size is never held whole.
 */
import {
  CATEGORICAL_FEATURES,
  NUMERIC_FEATURES,
  type AdExample,
  type CategoricalFeature,
  type NumericFeature,
} from '../dataset/schema';
import type { Preprocessing } from './preprocessing';

/** Running count, mean and sum of squared deviations (Welford), numerically stable in one pass. */
interface RunningMoments {
  count: number;
  mean: number;
  m2: number;
}

/** Accumulates examples with `add` (any number of chunks), then `finish` gives the Preprocessing. */
export class PreprocessingFitter {
  private readonly values = new Map<CategoricalFeature, Set<string>>(
    CATEGORICAL_FEATURES.map((feature) => [feature, new Set<string>()]),
  );
  private readonly moments = new Map<NumericFeature, RunningMoments>(
    NUMERIC_FEATURES.map((feature) => [feature, { count: 0, mean: 0, m2: 0 }]),
  );
  private rows = 0;

  constructor(private readonly imageSize: number) {}

  /** Examples seen so far. */
  get count(): number {
    return this.rows;
  }

  add(examples: readonly AdExample[]): void {
    for (const example of examples) {
      for (const feature of CATEGORICAL_FEATURES) this.values.get(feature)!.add(example[feature]);
      for (const feature of NUMERIC_FEATURES) {
        const value = example[feature];
        if (!Number.isFinite(value)) {
          throw new RangeError(`${example.ad_id}: ${feature} must be a finite number, got ${String(value)}`);
        }
        const m = this.moments.get(feature)!;
        m.count++;
        const delta = value - m.mean;
        m.mean += delta / m.count;
        m.m2 += delta * (value - m.mean);
      }
    }
    this.rows += examples.length;
  }

  finish(): Preprocessing {
    if (this.rows === 0) throw new Error('cannot fit preprocessing on an empty training split');
    const vocabularies = Object.fromEntries(
      CATEGORICAL_FEATURES.map((feature) => [feature, [...this.values.get(feature)!].sort()]),
    ) as Record<CategoricalFeature, string[]>;
    const numeric = Object.fromEntries(
      NUMERIC_FEATURES.map((feature) => {
        const { count, mean, m2 } = this.moments.get(feature)!;
        const std = Math.sqrt(m2 / count);
        // A constant feature carries no signal; std 1 keeps it at 0 instead of dividing by zero.
        return [feature, { mean, std: std > 1e-12 ? std : 1 }];
      }),
    ) as Record<NumericFeature, { mean: number; std: number }>;
    return { version: 1, imageSize: this.imageSize, vocabularies, numeric };
  }
}
