/**
 * Where training batches come from: examples in memory (tests, small data) or Arrow shards streamed
 * from the store. Either way an epoch's order depends only on (seed, epoch), so a run resumed at
 * epoch k sees exactly the batches an uninterrupted run would have.
 */
import type { FeatureSpec } from '../../contracts/feature-spec';
import { streamShard, type ShardChunk } from '../dataset/shards';
import { createRandom } from '../dataset/random';
import { PreprocessingFitter } from './preprocessing-fit';
import {
  encodeBatch,
  gatherRows,
  inputLayout,
  textSlots,
  type EncodedBatch,
  columnValue,
  type ModelInput,
  type Preprocessing,
} from './preprocessing';

import { prefetch } from './prefetch';

/** An example with its label as 0 or 1 under the spec's label column, as shards store it. */
export type LabelledInput = ModelInput;

/** The 0/1 labels of examples, read from the spec's label column. */
export function labelsOf(examples: readonly LabelledInput[], spec: FeatureSpec): Float32Array {
  const column = spec.label.column;
  return Float32Array.from(examples, (example) => Number(columnValue(example, column)));
}

/** A mini-batch ready to become tensors. */
export interface LabelledBatch {
  inputs: EncodedBatch;
  labels: Float32Array;
}

/** A training split as a sequence of epochs. */
export interface TrainingData {
  /** Examples per epoch. */
  readonly rows: number;
  /** The epoch's mini-batches (the last one may be smaller), in an order fixed by the seed and epoch. */
  batches(epoch: number, batchSize: number): AsyncIterable<LabelledBatch>;
}

/** One shard of a split and its row count (from the first pass). */
export interface ShardSource {
  uri: string;
  rows: number;
}

/** A seed for one epoch's randomness, distinct per (seed, epoch, purpose). */
function epochSeed(seed: number, epoch: number, purpose: number): number {
  return Math.imul(seed, 0x9e3779b1) ^ Math.imul(epoch, 0x85ebca6b) ^ purpose;
}

/** Fisher–Yates permutation of 0..n-1 for one epoch; depends only on (seed, epoch), so a resumed run sees the same order. */
export function shuffledIndices(n: number, seed: number, epoch: number): Uint32Array {
  return permutation(n, createRandom(epochSeed(seed, epoch, 0)));
}

function permutation(n: number, random: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

/** Examples already in memory, encoded once and gathered per batch in a seeded full shuffle. */
export function inMemoryTrainingData(
  examples: readonly LabelledInput[],
  preprocessing: Preprocessing,
  seed: number,
): TrainingData {
  const encoded = encodeBatch(preprocessing, examples);
  const labels = labelsOf(examples, preprocessing.spec);
  const n = examples.length;
  return {
    rows: n,
    async *batches(epoch, batchSize) {
      const order = shuffledIndices(n, seed, epoch);
      for (let start = 0; start < n; start += batchSize) {
        const rows = order.subarray(start, Math.min(n, start + batchSize));
        yield { inputs: gatherRows(encoded, rows), labels: Float32Array.from(rows, (r) => labels[r]!) };
        await Promise.resolve();
      }
    },
  };
}

/** Fixed-capacity columnar rows: the shuffle buffer, and each batch being assembled. */
class RowStore {
  readonly pixels: Uint8Array;
  readonly categorical: Int32Array[];
  readonly numeric: Float32Array;
  readonly text: Int32Array[];
  readonly labels: Float32Array;

  constructor(
    readonly capacity: number,
    private readonly shape: RowShape,
  ) {
    this.pixels = new Uint8Array(capacity * shape.imageBytes);
    this.categorical = Array.from({ length: shape.categorical }, () => new Int32Array(capacity));
    this.numeric = new Float32Array(capacity * shape.numericWidth);
    this.text = shape.textSlots.map((slots) => new Int32Array(capacity * slots));
    this.labels = new Float32Array(capacity);
  }

  /** Copies row `from` of an encoded chunk (or another store) into slot `to`. */
  put(to: number, source: Omit<EncodedBatch, 'size'>, labels: Float32Array, from: number): void {
    const { imageBytes, numericWidth: k, textSlots } = this.shape;
    this.pixels.set(source.pixels.subarray(from * imageBytes, (from + 1) * imageBytes), to * imageBytes);
    for (let f = 0; f < this.categorical.length; f++)
      this.categorical[f]![to] = source.categorical[f]![from]!;
    this.numeric.set(source.numeric.subarray(from * k, (from + 1) * k), to * k);
    textSlots.forEach((slots, t) => {
      this.text[t]!.set(source.text[t]!.subarray(from * slots, (from + 1) * slots), to * slots);
    });
    this.labels[to] = labels[from]!;
  }

  /** The first `size` rows as a batch (views, not copies). */
  toBatch(size: number): LabelledBatch {
    const { imageBytes, numericWidth, textSlots } = this.shape;
    return {
      inputs: {
        size,
        pixels: this.pixels.subarray(0, size * imageBytes),
        categorical: this.categorical.map((column) => column.subarray(0, size)),
        numeric: this.numeric.subarray(0, size * numericWidth),
        text: this.text.map((column, t) => column.subarray(0, size * textSlots[t]!)),
      },
      labels: this.labels.subarray(0, size),
    };
  }
}

/** Widths of one encoded row, from the preprocessing. */
interface RowShape {
  imageBytes: number;
  categorical: number;
  numericWidth: number;
  textSlots: number[];
}

function rowShape(preprocessing: Preprocessing): RowShape {
  const layout = inputLayout(preprocessing);
  return {
    imageBytes: layout.imageBytes,
    categorical: layout.categorical.length,
    numericWidth: layout.numericWidth,
    textSlots: layout.text.map(textSlots),
  };
}

export interface ShardTrainingDataOptions {
  shards: readonly ShardSource[];
  preprocessing: Preprocessing;
  seed: number;
  /** Rows the shuffle holds; capped at the split's size (then every epoch is a full shuffle). */
  shuffleBufferSize: number;
  /** Reads a shard chunk by chunk; streamShard unless a test says otherwise. */
  read?: (uri: string) => AsyncIterable<ShardChunk>;
}

/**
 * Shards streamed record batch by record batch. Each epoch visits the shards in a seeded order and
 * passes rows through a seeded shuffle buffer (tf.data's algorithm: fill, then emit a random slot
 * and refill it), so memory is the buffer plus a record batch or two, whatever the split's size.
 */
export function shardTrainingData(options: ShardTrainingDataOptions): TrainingData {
  const { shards, preprocessing, seed } = options;
  const read = options.read ?? streamShard;
  const rows = shards.reduce((sum, shard) => sum + shard.rows, 0);
  const shape = rowShape(preprocessing);
  const capacity = Math.max(1, Math.min(options.shuffleBufferSize, rows));
  return {
    rows,
    async *batches(epoch, batchSize) {
      const random = createRandom(epochSeed(seed, epoch, 0x5bd1e995));
      const buffer = new RowStore(capacity, shape);
      let filled = 0;
      let out = new RowStore(batchSize, shape);
      let outSize = 0;
      const emit = (slot: number) => out.put(outSize++, buffer, buffer.labels, slot);

      for (const index of permutation(shards.length, random)) {
        const shard = shards[index]!;
        for await (const chunk of prefetch(read(shard.uri))) {
          if (chunk.imageSize !== preprocessing.imageSize) {
            throw new Error(
              `shard ${shard.uri} holds ${chunk.imageSize}px images; this training uses ${preprocessing.imageSize}px`,
            );
          }
          const encoded = encodeBatch(preprocessing, chunk.examples);
          const labels = labelsOf(chunk.examples, preprocessing.spec);
          for (let r = 0; r < encoded.size; r++) {
            if (filled < capacity) {
              buffer.put(filled++, encoded, labels, r);
              continue;
            }
            const slot = Math.floor(random() * capacity);
            emit(slot);
            buffer.put(slot, encoded, labels, r);
            if (outSize === batchSize) {
              yield out.toBatch(outSize);
              out = new RowStore(batchSize, shape);
              outSize = 0;
            }
          }
        }
      }
      while (filled > 0) {
        const slot = Math.floor(random() * filled);
        emit(slot);
        filled--;
        if (slot !== filled) buffer.put(slot, buffer, buffer.labels, filled);
        if (outSize === batchSize) {
          yield out.toBatch(outSize);
          out = new RowStore(batchSize, shape);
          outSize = 0;
        }
      }
      if (outSize > 0) yield out.toBatch(outSize);
    },
  };
}

/** What the first pass over a split learns: preprocessing fitted on it, and each shard's rows. */
export interface ShardScan {
  preprocessing: Preprocessing;
  shards: ShardSource[];
  rows: number;
}

/** The streaming first pass: fits vocabularies and normalisation and counts rows, a record batch at a time. */
export async function scanShards(
  uris: readonly string[],
  imageSize: number,
  spec: FeatureSpec,
  read: (uri: string) => AsyncIterable<ShardChunk> = streamShard,
): Promise<ShardScan> {
  if (uris.length === 0) throw new Error('no training shards were given');
  const fitter = new PreprocessingFitter(spec, imageSize);
  const shards: ShardSource[] = [];
  for (const uri of uris) {
    let rows = 0;
    for await (const chunk of prefetch(read(uri))) {
      if (chunk.imageSize !== imageSize) {
        throw new Error(`shard ${uri} holds ${chunk.imageSize}px images; this training uses ${imageSize}px`);
      }
      fitter.add(chunk.examples);
      rows += chunk.examples.length;
    }
    shards.push({ uri, rows });
  }
  return { preprocessing: fitter.finish(), shards, rows: fitter.count };
}
