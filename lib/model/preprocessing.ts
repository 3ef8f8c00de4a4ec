/** The one preprocessing definition training and serving share: vocabularies, normalisation, image scaling. */
import * as tf from '@tensorflow/tfjs';
import {
  CATEGORICAL_FEATURES,
  NUMERIC_FEATURES,
  type AdExample,
  type AdFeatures,
  type CategoricalFeature,
  type NumericFeature,
} from '../dataset/schema';

/** Index every unseen category maps to; known categories start at 1. */
export const OOV_INDEX = 0;

/** Names of the model's inputs, in the order `toModelInputs` returns tensors. */
export const MODEL_INPUT_NAMES = [
  'image',
  ...CATEGORICAL_FEATURES.map((f) => `cat_${f}`),
  'numeric',
] as const;

/** Fitted preprocessing, saved beside the model as JSON. */
export interface Preprocessing {
  version: 1;
  /** Images are imageSize × imageSize × 3 RGB. */
  imageSize: number;
  /** Sorted known values per categorical feature; value at position i has index i + 1 (0 is OOV). */
  vocabularies: Record<CategoricalFeature, string[]>;
  /** Training-split mean and standard deviation per numeric feature (std 1 when constant). */
  numeric: Record<NumericFeature, { mean: number; std: number }>;
}

/** One example as the model sees it, before or after a label is known. */
export type ModelInput = AdFeatures & { pixels: Uint8Array };

/** A batch encoded to flat typed arrays: cheap to slice and gather, and free of tensors. */
export interface EncodedBatch {
  size: number;
  /** n × s × s × 3 raw bytes; scaled to 0..1 only when tensors are made, to keep 4× less memory. */
  pixels: Uint8Array;
  /** One n-long index array per categorical feature, in CATEGORICAL_FEATURES order. */
  categorical: Int32Array[];
  /** n × k normalised numerics, k = NUMERIC_FEATURES.length. */
  numeric: Float32Array;
}

/** Fits vocabularies and numeric statistics on the training split. */
export function fitPreprocessing(examples: readonly AdExample[], imageSize: number): Preprocessing {
  if (examples.length === 0) throw new Error('cannot fit preprocessing on an empty training split');
  const vocabularies = Object.fromEntries(
    CATEGORICAL_FEATURES.map((feature) => [feature, [...new Set(examples.map((e) => e[feature]))].sort()]),
  ) as Record<CategoricalFeature, string[]>;
  const numeric = Object.fromEntries(
    NUMERIC_FEATURES.map((feature) => {
      const values = examples.map((e) => e[feature]);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
      const std = Math.sqrt(variance);
      // A constant feature carries no signal; std 1 keeps it at 0 instead of dividing by zero.
      return [feature, { mean, std: std > 1e-12 ? std : 1 }];
    }),
  ) as Record<NumericFeature, { mean: number; std: number }>;
  return { version: 1, imageSize, vocabularies, numeric };
}

/** Lookup tables from category to index, built once per preprocessing rather than per example. */
const lookupCache = new WeakMap<Preprocessing, Map<string, number>[]>();

function lookupsFor(preprocessing: Preprocessing): Map<string, number>[] {
  let lookups = lookupCache.get(preprocessing);
  if (!lookups) {
    lookups = CATEGORICAL_FEATURES.map(
      (feature) => new Map(preprocessing.vocabularies[feature].map((value, i) => [value, i + 1])),
    );
    lookupCache.set(preprocessing, lookups);
  }
  return lookups;
}

/** Encodes examples to typed arrays; unknown categories become OOV_INDEX, wrong image sizes and non-finite numbers throw. */
export function encodeBatch(preprocessing: Preprocessing, inputs: readonly ModelInput[]): EncodedBatch {
  const n = inputs.length;
  const imageBytes = preprocessing.imageSize * preprocessing.imageSize * 3;
  const lookups = lookupsFor(preprocessing);
  const pixels = new Uint8Array(n * imageBytes);
  const categorical = CATEGORICAL_FEATURES.map(() => new Int32Array(n));
  const k = NUMERIC_FEATURES.length;
  const numeric = new Float32Array(n * k);
  inputs.forEach((input, row) => {
    if (input.pixels.length !== imageBytes) {
      throw new RangeError(
        `example ${row}: image has ${input.pixels.length} bytes, expected ${imageBytes} ` +
          `(${preprocessing.imageSize}×${preprocessing.imageSize}×3 RGB)`,
      );
    }
    pixels.set(input.pixels, row * imageBytes);
    CATEGORICAL_FEATURES.forEach((feature, f) => {
      categorical[f]![row] = lookups[f]!.get(String(input[feature])) ?? OOV_INDEX;
    });
    NUMERIC_FEATURES.forEach((feature, j) => {
      const value = input[feature];
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new RangeError(`example ${row}: ${feature} must be a finite number, got ${String(value)}`);
      }
      const { mean, std } = preprocessing.numeric[feature];
      numeric[row * k + j] = (value - mean) / std;
    });
  });
  return { size: n, pixels, categorical, numeric };
}

/** Picks rows of an encoded batch by index (for shuffled mini-batches). */
export function gatherRows(batch: EncodedBatch, rows: ArrayLike<number>): EncodedBatch {
  const n = rows.length;
  const imageBytes = batch.size === 0 ? 0 : batch.pixels.length / batch.size;
  const k = NUMERIC_FEATURES.length;
  const pixels = new Uint8Array(n * imageBytes);
  const categorical = batch.categorical.map(() => new Int32Array(n));
  const numeric = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    pixels.set(batch.pixels.subarray(r * imageBytes, (r + 1) * imageBytes), i * imageBytes);
    batch.categorical.forEach((column, f) => {
      categorical[f]![i] = column[r]!;
    });
    numeric.set(batch.numeric.subarray(r * k, (r + 1) * k), i * k);
  }
  return { size: n, pixels, categorical, numeric };
}

/** Turns an encoded batch into model input tensors, ordered as MODEL_INPUT_NAMES; the caller disposes them. */
export function encodedToTensors(preprocessing: Preprocessing, batch: EncodedBatch): tf.Tensor[] {
  const s = preprocessing.imageSize;
  const scaled = new Float32Array(batch.pixels.length);
  for (let i = 0; i < scaled.length; i++) scaled[i] = batch.pixels[i]! / 255;
  return [
    tf.tensor4d(scaled, [batch.size, s, s, 3], 'float32'),
    // [n, 1] because an embedding layer's input needs a feature axis.
    ...batch.categorical.map((column) => tf.tensor2d(column, [batch.size, 1], 'int32')),
    tf.tensor2d(batch.numeric, [batch.size, NUMERIC_FEATURES.length], 'float32'),
  ];
}

/** Converts examples to model input tensors (image [n,s,s,3] in 0..1, categoricals [n,1] int32, numerics [n,k]). */
export function toModelInputs(preprocessing: Preprocessing, inputs: readonly ModelInput[]): tf.Tensor[] {
  return encodedToTensors(preprocessing, encodeBatch(preprocessing, inputs));
}
