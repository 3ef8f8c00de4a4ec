/** The training loop: deterministic shuffles, batch-by-batch updates, progress, checkpoints and cancellation. */
import * as tf from '@tensorflow/tfjs';
import type { PipelineConfig } from '../config-schema';
import type { AdExample } from '../dataset/schema';
import { compileModel, createModel, disposeModel } from './architecture';
import { createRandom } from '../random';
import { loadTfBackend } from './backend';
import type { ModelBundle } from './index';
import { encodeBatch, encodedToTensors, fitPreprocessing, gatherRows } from './preprocessing';

/** Reported after every batch; `batch` counts batches done in this epoch (1..batchesPerEpoch). */
export interface TrainProgress {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  /** Loss on the batch just trained. */
  loss: number;
}

/** Reported after every epoch; `bundle` is the live model, so save it inside the callback. */
export interface EpochEndInfo {
  epoch: number;
  /** Mean of the epoch's batch losses, weighted by batch size. */
  loss: number;
  bundle: ModelBundle;
}

export interface TrainModelOptions {
  examples: readonly AdExample[];
  imageSize: number;
  config: PipelineConfig['train'];
  onProgress?: (progress: TrainProgress) => void | Promise<void>;
  onEpochEnd?: (info: EpochEndInfo) => Promise<void>;
  /** Continue a checkpoint: its preprocessing is kept (vocabularies fix embedding sizes); Adam's state restarts. */
  resumeFrom?: { bundle: ModelBundle; epochsDone: number };
  signal?: AbortSignal;
}

export interface TrainModelResult {
  bundle: ModelBundle;
  /** One loss per epoch trained in this call (epochsDone + 1 .. config.epochs when resuming). */
  lossHistory: number[];
}

/** Thrown when the abort signal fires; named 'AbortError' like the platform's own. */
export class TrainingAbortedError extends Error {
  constructor(readonly epoch: number) {
    super(`training aborted during epoch ${epoch}`);
    this.name = 'AbortError';
  }
}

/** Fisher–Yates permutation of 0..n-1 for one epoch; depends only on (seed, epoch), so a resumed run sees the same order. */
export function shuffledIndices(n: number, seed: number, epoch: number): Uint32Array {
  const random = createRandom(Math.imul(seed, 0x9e3779b1) ^ Math.imul(epoch, 0x85ebca6b));
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

/** Lets timers and I/O run (Temporal heartbeats, cancellation delivery) between CPU-bound batches. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Trains a new model (or continues a checkpoint) for config.epochs epochs, numbered from 1. */
export async function trainModel(options: TrainModelOptions): Promise<TrainModelResult> {
  const { examples, imageSize, config, onProgress, onEpochEnd, resumeFrom, signal } = options;
  const firstEpoch = (resumeFrom?.epochsDone ?? 0) + 1;
  if (signal?.aborted) throw new TrainingAbortedError(firstEpoch);
  if (examples.length === 0) throw new Error('cannot train on an empty training split');
  if (resumeFrom && resumeFrom.bundle.preprocessing.imageSize !== imageSize) {
    throw new Error(
      `checkpoint was trained at imageSize ${resumeFrom.bundle.preprocessing.imageSize}, not ${imageSize}; ` +
        'start training from scratch',
    );
  }

  // Memoised; makes sure a backend was chosen deliberately (and the fast CPU kernels are in) before any tensor work.
  await loadTfBackend();
  const preprocessing = resumeFrom?.bundle.preprocessing ?? fitPreprocessing(examples, imageSize);
  // Encode before creating the model: a bad example then fails with nothing to free.
  const encoded = encodeBatch(preprocessing, examples);
  const labels = Float32Array.from(examples, (e) => e.clicked);
  const model = resumeFrom?.bundle.model ?? createModel(config, preprocessing);
  // A model loaded from storage comes back uncompiled.
  if (!model.optimizer) compileModel(model, config);
  const bundle: ModelBundle = { model, preprocessing };

  const n = examples.length;
  const batchSize = Math.min(config.batchSize, n);
  const batchesPerEpoch = Math.ceil(n / batchSize);
  const lossHistory: number[] = [];

  try {
    for (let epoch = firstEpoch; epoch <= config.epochs; epoch++) {
      const order = shuffledIndices(n, config.seed, epoch);
      let weightedLoss = 0;
      for (let b = 0; b < batchesPerEpoch; b++) {
        if (signal?.aborted) throw new TrainingAbortedError(epoch);
        const rows = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
        const xs = encodedToTensors(preprocessing, gatherRows(encoded, rows));
        const ys = tf.tensor2d(
          Float32Array.from(rows, (r) => labels[r]!),
          [rows.length, 1],
        );
        let loss: number;
        try {
          // trainOnBatch is async, so tf.tidy cannot scope it; inputs are disposed by hand instead.
          loss = (await model.trainOnBatch(xs, ys)) as number;
        } finally {
          tf.dispose([...xs, ys]);
        }
        weightedLoss += loss * rows.length;
        await onProgress?.({ epoch, batch: b + 1, batchesPerEpoch, loss });
        await yieldToEventLoop();
      }
      const epochLoss = weightedLoss / n;
      lossHistory.push(epochLoss);
      await onEpochEnd?.({ epoch, loss: epochLoss, bundle });
    }
  } catch (err) {
    // A model this call created is unreachable after a failure; free its weights. A resumed one is the caller's.
    if (!resumeFrom) disposeModel(model);
    throw err;
  }
  return { bundle, lossHistory };
}
