/**
 * Fits preprocessing in one streaming pass: per categorical column its value counts (bounded),
 * per numeric column a running mean and standard deviation of its transformed values, accumulated
 * chunk by chunk, so a training split of any size is never held whole.
 */
import {
  DEFAULT_HASH_BUCKETS,
  DEFAULT_MAX_VOCABULARY,
  modelInputs,
  type FeatureSpec,
} from '../../contracts/feature-spec';
import { byFrequency } from '../dataset/feature-accumulator';
import {
  columnValue,
  isMissing,
  numberOf,
  PREPROCESSING_VERSION,
  transformNumeric,
  type FittedFeature,
  type ModelInput,
  type Preprocessing,
} from './preprocessing';

/** Distinct values counted per vocabulary column; values first seen past it stay out of vocabulary. */
const MAX_COUNTED_VALUES = 200_000;

/** Running count, mean and sum of squared deviations (Welford), numerically stable in one pass. */
interface RunningMoments {
  count: number;
  mean: number;
  m2: number;
}

type Accumulator =
  | { kind: 'vocabulary'; column: string; maxVocabulary: number; counts: Map<string, number> }
  | {
      kind: 'moments';
      column: string;
      normalize: 'zscore' | 'log' | 'none';
      missingIndicator: boolean;
      moments: RunningMoments;
    }
  | { kind: 'fixed'; feature: FittedFeature };

/** Accumulates examples with `add` (any number of chunks), then `finish` gives the Preprocessing. */
export class PreprocessingFitter {
  private readonly accumulators: Accumulator[];
  private rows = 0;

  constructor(
    private readonly spec: FeatureSpec,
    private readonly imageSize: number,
  ) {
    this.accumulators = modelInputs(spec).map((feature): Accumulator => {
      switch (feature.kind) {
        case 'categorical':
          return feature.encoding === 'hash'
            ? {
                kind: 'fixed',
                feature: {
                  column: feature.column,
                  kind: 'categorical',
                  buckets: feature.buckets ?? DEFAULT_HASH_BUCKETS,
                },
              }
            : {
                kind: 'vocabulary',
                column: feature.column,
                maxVocabulary: feature.maxVocabulary ?? DEFAULT_MAX_VOCABULARY,
                counts: new Map(),
              };
        case 'numeric':
          return {
            kind: 'moments',
            column: feature.column,
            normalize: feature.normalize,
            missingIndicator: feature.missingIndicator,
            moments: { count: 0, mean: 0, m2: 0 },
          };
        case 'text':
          return { kind: 'fixed', feature: { ...feature } };
        case 'image':
          return { kind: 'fixed', feature: { column: feature.column, kind: 'image' } };
      }
    });
  }

  /** Examples seen so far. */
  get count(): number {
    return this.rows;
  }

  add(examples: readonly ModelInput[]): void {
    const missingValues = this.spec.csv.missingValues;
    for (const example of examples) {
      for (const accumulator of this.accumulators) {
        if (accumulator.kind === 'fixed') continue;
        const raw = columnValue(example, accumulator.column);
        const missing = isMissing(raw, missingValues);
        if (accumulator.kind === 'vocabulary') {
          if (missing) continue;
          const value = String(raw).trim();
          const seen = accumulator.counts.get(value);
          if (seen !== undefined) accumulator.counts.set(value, seen + 1);
          else if (accumulator.counts.size < MAX_COUNTED_VALUES) accumulator.counts.set(value, 1);
          continue;
        }
        if (missing && accumulator.missingIndicator) continue;
        const value = missing ? Number.NaN : transformNumeric(numberOf(raw), accumulator.normalize);
        if (!Number.isFinite(value)) {
          const id = this.spec.id === undefined ? '' : `${String(columnValue(example, this.spec.id))}: `;
          throw new RangeError(`${id}${accumulator.column} must be a finite number, got ${String(raw)}`);
        }
        const m = accumulator.moments;
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
    const features = this.accumulators.map((accumulator): FittedFeature => {
      switch (accumulator.kind) {
        case 'fixed':
          return accumulator.feature;
        case 'vocabulary': {
          // The most frequent values, then sorted so an index does not depend on the rows' order.
          const kept = [...accumulator.counts]
            .sort(byFrequency)
            .slice(0, accumulator.maxVocabulary)
            .map(([value]) => value)
            .sort();
          return { column: accumulator.column, kind: 'categorical', vocabulary: kept };
        }
        case 'moments': {
          const { count, mean, m2 } = accumulator.moments;
          const std = count > 0 ? Math.sqrt(m2 / count) : 0;
          const none = accumulator.normalize === 'none';
          return {
            column: accumulator.column,
            kind: 'numeric',
            normalize: accumulator.normalize,
            // A constant feature carries no signal; std 1 keeps it at 0 instead of dividing by zero.
            mean: none ? 0 : mean,
            std: none || std <= 1e-12 ? 1 : std,
            missingIndicator: accumulator.missingIndicator,
          };
        }
      }
    });
    return { version: PREPROCESSING_VERSION, imageSize: this.imageSize, spec: this.spec, features };
  }
}

/** Fits preprocessing on examples held in memory (tests, small data). */
export function fitPreprocessing(
  examples: readonly ModelInput[],
  imageSize: number,
  spec: FeatureSpec,
): Preprocessing {
  const fitter = new PreprocessingFitter(spec, imageSize);
  fitter.add(examples);
  return fitter.finish();
}
