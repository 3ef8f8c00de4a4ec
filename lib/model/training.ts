/** The training loop: seeded batches from any TrainingData, progress, per-epoch hooks, resume with optimizer state, cancellation. */
import * as tf from '@tensorflow/tfjs';
import type { PipelineConfig } from '../../contracts/pipeline-config';
import { compileModel, createModel, disposeModel } from './architecture';
import { loadModelModule } from './model-module';
import { loadTfBackend } from './backend';
import type { ModelBundle } from './index';
import { inMemoryTrainingData, type TrainingData } from './input-pipeline';
import { disposeOptimizerState, restoreOptimizerState, type OptimizerState } from './optimizer-state';
import { prefetch } from './prefetch';
import type { FeatureSpec } from '../../contracts/feature-spec';
import { encodedToTensors, type Preprocessing } from './preprocessing';
import { fitPreprocessing } from './preprocessing-fit';
import type { LabelledInput } from './input-pipeline';

export { shuffledIndices } from './input-pipeline';

/** Reported after every batch; `batch` counts batches done in this epoch (1..batchesPerEpoch). */
export interface TrainProgress {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  /** Loss on the batch just trained. */
  loss: number;
}

/** Reported after every epoch; `bundle` is the live model (its optimizer too), so save it inside the callback. */
export interface EpochEndInfo {
  epoch: number;
  /** Mean of the epoch's batch losses, weighted by batch size. */
  loss: number;
  bundle: ModelBundle;
}

export interface TrainModelOptions {
  /** Examples in memory; preprocessing is fitted on them unless given. Or pass `data`. */
  examples?: readonly LabelledInput[];
  /** A training split as epochs of batches (shards streamed from the store); needs `preprocessing`. */
  data?: TrainingData;
  /** Preprocessing the data was encoded with; a resumed bundle's own takes precedence. */
  preprocessing?: Preprocessing;
  /** The spec `examples` are fitted by, when no preprocessing is given. */
  featureSpec?: FeatureSpec;
  imageSize: number;
  config: PipelineConfig['train'];
  onProgress?: (progress: TrainProgress) => void | Promise<void>;
  onEpochStart?: (epoch: number, batchesPerEpoch: number) => void | Promise<void>;
  onEpochEnd?: (info: EpochEndInfo) => Promise<void>;
  /**
   * Continue a checkpoint: its preprocessing is kept (vocabularies fix embedding sizes), and with
   * `optimizerState` Adam continues where it was (moments, step), so the result equals an uninterrupted run's.
   */
  resumeFrom?: { bundle: ModelBundle; epochsDone: number; optimizerState?: OptimizerState };
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

/** Lets timers, signals and IPC run (heartbeats, cancellation, a parent's disconnect) between CPU-bound batches. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function trainingData(options: TrainModelOptions, preprocessing: Preprocessing): TrainingData {
  if (options.data) return options.data;
  if (!options.examples) throw new Error('trainModel needs `examples` or `data`');
  return inMemoryTrainingData(options.examples, preprocessing, options.config.seed);
}

function specToFit(options: TrainModelOptions): FeatureSpec {
  if (!options.featureSpec)
    throw new Error('trainModel with `examples` and no `preprocessing` needs the `featureSpec`');
  return options.featureSpec;
}

/**
 * Trains a new model (or continues a checkpoint) for config.epochs epochs, numbered from 1.
 * Takes ownership of `resumeFrom.optimizerState` (freed whatever happens); a resumed model stays the caller's.
 */
export async function trainModel(options: TrainModelOptions): Promise<TrainModelResult> {
  const { imageSize, config, onProgress, onEpochStart, onEpochEnd, resumeFrom, signal } = options;
  let pendingState = resumeFrom?.optimizerState;
  let created: tf.LayersModel | undefined;
  try {
    const firstEpoch = (resumeFrom?.epochsDone ?? 0) + 1;
    if (signal?.aborted) throw new TrainingAbortedError(firstEpoch);
    if (options.examples?.length === 0 || options.data?.rows === 0) {
      throw new Error('cannot train on an empty training split');
    }
    if (resumeFrom && resumeFrom.bundle.preprocessing.imageSize !== imageSize) {
      throw new Error(
        `checkpoint was trained at imageSize ${resumeFrom.bundle.preprocessing.imageSize}, not ${imageSize}; ` +
          'start training from scratch',
      );
    }
    if (options.data && !options.preprocessing && !resumeFrom) {
      throw new Error('trainModel with `data` needs the `preprocessing` it is encoded with');
    }

    // Memoised; makes sure a backend was chosen deliberately (and the fast CPU kernels are in) before any tensor work.
    await loadTfBackend();
    const preprocessing =
      resumeFrom?.bundle.preprocessing ??
      options.preprocessing ??
      fitPreprocessing(options.examples ?? [], imageSize, specToFit(options));
    // Built before the model: bad examples then fail with nothing to free.
    const data = trainingData(options, preprocessing);
    const model =
      resumeFrom?.bundle.model ??
      (created = createModel(
        config,
        preprocessing,
        config.modelModule ? await loadModelModule(config.modelModule) : undefined,
      ));
    const bundle: ModelBundle = { model, preprocessing };

    // A model loaded from storage comes back uncompiled; its saved optimizer state goes into the new Adam.
    if (!model.optimizer) compileModel(model, config);
    if (pendingState) {
      const state = pendingState;
      pendingState = undefined;
      await restoreOptimizerState(model.optimizer, state);
    }

    const batchSize = Math.min(config.batchSize, data.rows);
    const batchesPerEpoch = Math.ceil(data.rows / batchSize);
    const lossHistory: number[] = [];
    for (let epoch = firstEpoch; epoch <= config.epochs; epoch++) {
      if (signal?.aborted) throw new TrainingAbortedError(epoch);
      await onEpochStart?.(epoch, batchesPerEpoch);
      let weightedLoss = 0;
      let batch = 0;
      for await (const { inputs, labels } of prefetch(data.batches(epoch, batchSize))) {
        if (signal?.aborted) throw new TrainingAbortedError(epoch);
        const xs = encodedToTensors(preprocessing, inputs);
        const ys = tf.tensor2d(labels, [labels.length, 1]);
        let loss: number;
        try {
          // trainOnBatch is async, so tf.tidy cannot scope it; inputs are disposed by hand instead.
          loss = (await model.trainOnBatch(xs, ys)) as number;
        } finally {
          tf.dispose([...xs, ys]);
        }
        weightedLoss += loss * labels.length;
        batch++;
        await onProgress?.({ epoch, batch, batchesPerEpoch, loss });
        await yieldToEventLoop();
      }
      const epochLoss = weightedLoss / data.rows;
      lossHistory.push(epochLoss);
      await onEpochEnd?.({ epoch, loss: epochLoss, bundle });
    }
    return { bundle, lossHistory };
  } catch (err) {
    if (pendingState) disposeOptimizerState(pendingState);
    // A model this call created is unreachable after a failure; free its weights. A resumed one is the caller's.
    if (created) disposeModel(created);
    throw err;
  }
}
