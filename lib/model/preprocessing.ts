/**
 * The one preprocessing definition training and serving share, built from the feature spec: per
 * categorical column a vocabulary (0 is out of vocabulary) or hashed buckets, per numeric column its
 * normalisation and missing-value indicator, per text column hashed word n-grams, and the image
 * size. Saved beside the model as JSON, the spec inside it, so serving cannot drift from training.
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureSpec } from '../../contracts/feature-spec';
import { hash32 } from '../dataset/hash';

/** Index every unseen (or missing) category maps to; known categories start at 1. */
export const OOV_INDEX = 0;
/** Format version of preprocessing.json; version 1 (the ads' fixed columns) is upgraded on load. */
export const PREPROCESSING_VERSION = 2;

export interface FittedCategorical {
  column: string;
  kind: 'categorical';
  /** Sorted known values; value at position i has index i + 1. Absent when hashed. */
  vocabulary?: string[];
  /** Hash buckets; a value has index 1 + hash % buckets. Absent with a vocabulary. */
  buckets?: number;
}

export interface FittedNumeric {
  column: string;
  kind: 'numeric';
  normalize: 'zscore' | 'log' | 'none';
  /** Training-split mean and standard deviation after the transform (std 1 when constant). */
  mean: number;
  std: number;
  /** A second input, 1 when the value was missing (the value itself then reads as the mean). */
  missingIndicator: boolean;
}

export interface FittedText {
  column: string;
  kind: 'text';
  ngrams: number;
  buckets: number;
  maxTokens: number;
}

export interface FittedImage {
  column: string;
  kind: 'image';
}

export type FittedFeature = FittedCategorical | FittedNumeric | FittedText | FittedImage;

/** Fitted preprocessing, saved beside the model as JSON. */
export interface Preprocessing {
  version: typeof PREPROCESSING_VERSION;
  /** Images are imageSize × imageSize × 3 RGB. */
  imageSize: number;
  /** The spec the model was trained on: its columns, label, output name. */
  spec: FeatureSpec;
  /** One entry per model input column, in spec order. */
  features: FittedFeature[];
}

/**
 * One example as the model sees it: an object with a property per spec column (read by name), and
 * the decoded image if the spec has one. Any row type fits, whatever its columns.
 */
export type ModelInput = object & { readonly pixels?: Uint8Array };

/** The value of one column of an example. */
export function columnValue(input: ModelInput, column: string): unknown {
  return (input as Readonly<Record<string, unknown>>)[column];
}

/** A batch encoded to flat typed arrays: cheap to slice and gather, and free of tensors. */
export interface EncodedBatch {
  size: number;
  /** n × s × s × 3 raw bytes (empty without an image column); scaled to 0..1 only when tensors are made. */
  pixels: Uint8Array;
  /** One n-long index array per categorical input, in spec order. */
  categorical: Int32Array[];
  /** n × width normalised numerics and missing indicators, width = numericWidth. */
  numeric: Float32Array;
  /** One n × slots array of n-gram indices per text input (0 pads). */
  text: Int32Array[];
}

/** How a preprocessing's inputs are laid out, computed once per preprocessing. */
export interface InputLayout {
  image?: FittedImage;
  categorical: FittedCategorical[];
  numeric: FittedNumeric[];
  /** Numeric values per row: one per numeric feature, plus one per missing indicator. */
  numericWidth: number;
  text: FittedText[];
  /** Tensor names in the order encodedToTensors returns them. */
  names: string[];
  imageBytes: number;
}

const layoutCache = new WeakMap<Preprocessing, InputLayout>();

/** A column name as a layer name: TF.js names allow letters, digits and _ (unique by suffix). */
function layerName(prefix: string, column: string, taken: Set<string>): string {
  const base = `${prefix}_${column.replace(/[^A-Za-z0-9_]/g, '_')}`;
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

export function inputLayout(preprocessing: Preprocessing): InputLayout {
  let layout = layoutCache.get(preprocessing);
  if (layout) return layout;
  const features = preprocessing.features;
  const image = features.find((feature): feature is FittedImage => feature.kind === 'image');
  const categorical = features.filter(
    (feature): feature is FittedCategorical => feature.kind === 'categorical',
  );
  const numeric = features.filter((feature): feature is FittedNumeric => feature.kind === 'numeric');
  const text = features.filter((feature): feature is FittedText => feature.kind === 'text');
  const numericWidth = numeric.reduce((width, feature) => width + (feature.missingIndicator ? 2 : 1), 0);
  const taken = new Set<string>();
  const names = [
    ...(image ? ['image'] : []),
    ...categorical.map((feature) => layerName('cat', feature.column, taken)),
    ...(numericWidth > 0 ? ['numeric'] : []),
    ...text.map((feature) => layerName('text', feature.column, taken)),
  ];
  const imageBytes = image ? preprocessing.imageSize * preprocessing.imageSize * 3 : 0;
  layout = { image, categorical, numeric, numericWidth, text, names, imageBytes };
  layoutCache.set(preprocessing, layout);
  return layout;
}

/** Slots of a text input: every n-gram of up to `ngrams` words over the first maxTokens words. */
export function textSlots(feature: FittedText): number {
  return feature.maxTokens * feature.ngrams;
}

/** Lower-cased words of a text: letters and digits, anything else separates. */
export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);
}

/** A text's hashed n-gram indices (1..buckets), unigrams first, then bigrams …, at most textSlots. */
export function hashedNgrams(text: string, feature: FittedText): number[] {
  const words = tokenize(text).slice(0, feature.maxTokens);
  const indices: number[] = [];
  for (let n = 1; n <= feature.ngrams; n++) {
    for (let start = 0; start + n <= words.length; start++) {
      indices.push(1 + (hash32(words.slice(start, start + n).join(' ')) % feature.buckets));
    }
  }
  return indices;
}

/** A value is missing when absent, null, empty, or one of the spec's missing markers. */
export function isMissing(value: unknown, missingValues: readonly string[]): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === 'number') return Number.isNaN(value);
  return typeof value === 'string' && (value.trim() === '' || missingValues.includes(value.trim()));
}

/** The numeric transform before normalisation. */
export function transformNumeric(value: number, normalize: FittedNumeric['normalize']): number {
  return normalize === 'log' ? Math.sign(value) * Math.log1p(Math.abs(value)) : value;
}

/** A column value as a number: numbers as they are, numeric strings parsed, anything else NaN. */
export function numberOf(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return Number.NaN;
}

/** Lookup tables from category to index, built once per preprocessing rather than per example. */
const lookupCache = new WeakMap<Preprocessing, Array<Map<string, number> | undefined>>();

function lookupsFor(preprocessing: Preprocessing): Array<Map<string, number> | undefined> {
  let lookups = lookupCache.get(preprocessing);
  if (!lookups) {
    lookups = inputLayout(preprocessing).categorical.map((feature) =>
      feature.vocabulary ? new Map(feature.vocabulary.map((value, i) => [value, i + 1])) : undefined,
    );
    lookupCache.set(preprocessing, lookups);
  }
  return lookups;
}

/** The index of one categorical value: its vocabulary slot, its hash bucket, or OOV when missing or unseen. */
export function categoricalIndex(
  feature: FittedCategorical,
  lookup: Map<string, number> | undefined,
  value: unknown,
  missingValues: readonly string[],
): number {
  if (isMissing(value, missingValues)) return OOV_INDEX;
  const text = String(value).trim();
  if (lookup) return lookup.get(text) ?? OOV_INDEX;
  return 1 + (hash32(text) % feature.buckets!);
}

/** Encodes examples to typed arrays; unknown categories become OOV_INDEX, wrong image sizes and non-finite numbers throw. */
export function encodeBatch(preprocessing: Preprocessing, inputs: readonly ModelInput[]): EncodedBatch {
  const n = inputs.length;
  const layout = inputLayout(preprocessing);
  const { imageBytes, numericWidth } = layout;
  const missingValues = preprocessing.spec.csv.missingValues;
  const lookups = lookupsFor(preprocessing);
  const pixels = new Uint8Array(n * imageBytes);
  const categorical = layout.categorical.map(() => new Int32Array(n));
  const numeric = new Float32Array(n * numericWidth);
  const text = layout.text.map((feature) => new Int32Array(n * textSlots(feature)));
  inputs.forEach((input, row) => {
    if (layout.image) {
      const image = input.pixels;
      if (!image || image.length !== imageBytes) {
        throw new RangeError(
          `example ${row}: image has ${image?.length ?? 0} bytes, expected ${imageBytes} ` +
            `(${preprocessing.imageSize}×${preprocessing.imageSize}×3 RGB)`,
        );
      }
      pixels.set(image, row * imageBytes);
    }
    layout.categorical.forEach((feature, f) => {
      categorical[f]![row] = categoricalIndex(
        feature,
        lookups[f],
        columnValue(input, feature.column),
        missingValues,
      );
    });
    let offset = row * numericWidth;
    for (const feature of layout.numeric) {
      const raw = columnValue(input, feature.column);
      const missing = isMissing(raw, missingValues);
      const value = missing ? Number.NaN : transformNumeric(numberOf(raw), feature.normalize);
      if (!Number.isFinite(value) && !(missing && feature.missingIndicator)) {
        throw new RangeError(`example ${row}: ${feature.column} must be a finite number, got ${String(raw)}`);
      }
      numeric[offset++] = missing ? 0 : (value - feature.mean) / feature.std;
      if (feature.missingIndicator) numeric[offset++] = missing ? 1 : 0;
    }
    layout.text.forEach((feature, t) => {
      const raw = columnValue(input, feature.column);
      if (isMissing(raw, missingValues)) return;
      const slots = textSlots(feature);
      text[t]!.set(hashedNgrams(String(raw), feature).slice(0, slots), row * slots);
    });
  });
  return { size: n, pixels, categorical, numeric, text };
}

/** Picks rows of an encoded batch by index (for shuffled mini-batches). */
export function gatherRows(batch: EncodedBatch, rows: ArrayLike<number>): EncodedBatch {
  const n = rows.length;
  const per = (array: ArrayLike<number>) => (batch.size === 0 ? 0 : array.length / batch.size);
  const imageBytes = per(batch.pixels);
  const k = per(batch.numeric);
  const slots = batch.text.map(per);
  const pixels = new Uint8Array(n * imageBytes);
  const categorical = batch.categorical.map(() => new Int32Array(n));
  const numeric = new Float32Array(n * k);
  const text = slots.map((width) => new Int32Array(n * width));
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    pixels.set(batch.pixels.subarray(r * imageBytes, (r + 1) * imageBytes), i * imageBytes);
    batch.categorical.forEach((column, f) => {
      categorical[f]![i] = column[r]!;
    });
    numeric.set(batch.numeric.subarray(r * k, (r + 1) * k), i * k);
    batch.text.forEach((column, t) => {
      const width = slots[t]!;
      text[t]!.set(column.subarray(r * width, (r + 1) * width), i * width);
    });
  }
  return { size: n, pixels, categorical, numeric, text };
}

/** Turns an encoded batch into model input tensors, ordered as inputLayout's names; the caller disposes them. */
export function encodedToTensors(preprocessing: Preprocessing, batch: EncodedBatch): tf.Tensor[] {
  const layout = inputLayout(preprocessing);
  const tensors: tf.Tensor[] = [];
  if (layout.image) {
    const s = preprocessing.imageSize;
    const scaled = new Float32Array(batch.pixels.length);
    for (let i = 0; i < scaled.length; i++) scaled[i] = batch.pixels[i]! / 255;
    tensors.push(tf.tensor4d(scaled, [batch.size, s, s, 3], 'float32'));
  }
  // [n, 1] because an embedding layer's input needs a feature axis.
  for (const column of batch.categorical) tensors.push(tf.tensor2d(column, [batch.size, 1], 'int32'));
  if (layout.numericWidth > 0) {
    tensors.push(tf.tensor2d(batch.numeric, [batch.size, layout.numericWidth], 'float32'));
  }
  layout.text.forEach((feature, t) => {
    tensors.push(tf.tensor2d(batch.text[t]!, [batch.size, textSlots(feature)], 'int32'));
  });
  return tensors;
}

/** Converts examples to model input tensors (see encodedToTensors). */
export function toModelInputs(preprocessing: Preprocessing, inputs: readonly ModelInput[]): tf.Tensor[] {
  return encodedToTensors(preprocessing, encodeBatch(preprocessing, inputs));
}
