/**
 * One training run against the store, as the training process executes it: resume from the last
 * checkpoint or scan the shards and start fresh, train with checkpoints every few epochs (each one
 * replacing the one before), save the model. Everything it writes sits under the job's `outUri`, at
 * paths that depend only on the job, so any later attempt, in any process on any worker, finds and
 * continues it. The last checkpoint outlives the job: a retry that finds it only saves the model
 * again, until the caller has recorded the result and deletes it (train-checkpoints).
 */
import type { FeatureSpec } from '../../contracts/feature-spec';
import type { PipelineConfig } from '../../contracts/pipeline-config';
import { joinUri, readJsonIfExists, writeJson } from '../storage';
import { disposeModel } from './architecture';
import { loadTfBackend } from './backend';
import type { ModelBundle } from './index';
import { scanShards, shardTrainingData, type ShardSource } from './input-pipeline';
import { disposeOptimizerState, type OptimizerState } from './optimizer-state';
import { loadCheckpoint, saveCheckpoint, saveModelBundle } from './persistence';
import type { Preprocessing } from './preprocessing';
import { checkpointPointerUri, checkpointUri, pruneCheckpoints } from './train-checkpoints';
import { trainModel } from './training';

export interface TrainJob {
  /** Train shards, in the order ingest listed them; each epoch visits them in a seeded order. */
  shardUris: string[];
  imageSize: number;
  /** The columns and their kinds; preprocessing is fitted by it. */
  featureSpec: FeatureSpec;
  /** The pipeline's train configuration, defaults applied. */
  config: PipelineConfig['train'];
  /** The train stage's folder in the store: checkpoints/ and model/ are written under it. */
  outUri: string;
}

/** What the job is doing, for heartbeats between batches. */
export type TrainPhase = 'loading-backend' | 'scanning' | 'resuming' | 'training' | 'saving';

/** Where a checkpoint is; the pointer file and heartbeats carry it. */
export interface CheckpointRef {
  epoch: number;
  uri: string;
}

/** Events the job reports while it runs, in order. */
export type TrainJobEvent =
  | { type: 'backend'; backend: string; device: string }
  | { type: 'phase'; phase: TrainPhase }
  | { type: 'resumed'; checkpoint: CheckpointRef }
  | { type: 'epoch-start'; epoch: number; batchesPerEpoch: number }
  | { type: 'progress'; epoch: number; batch: number; batchesPerEpoch: number; loss: number }
  | { type: 'checkpoint'; checkpoint: CheckpointRef };

export interface TrainJobResult {
  modelUri: string;
  backend: string;
  device: string;
  epochs: number;
  /** The checkpoint epoch this run started after; 0 when it started fresh. */
  resumedFromEpoch: number;
  /** Epochs this run trained itself, in order. */
  epochsTrained: number[];
  /** Mean training loss of every epoch, the resumed ones included. */
  lossHistory: number[];
  finalLoss: number;
  /** Rows in the training split. */
  examples: number;
  /** Milliseconds in the epochs themselves (batches and checkpoints), for throughput. */
  trainingMs: number;
}

/** The pointer to the newest checkpoint, written after the checkpoint itself. */
export interface CheckpointPointer extends CheckpointRef {
  lossHistory: number[];
  /** Row counts from the first pass, so a resumed run need not scan again. */
  shards: ShardSource[];
}

export interface TrainJobHooks {
  emit?: (event: TrainJobEvent) => void;
  signal?: AbortSignal;
}

export { checkpointPointerUri } from './train-checkpoints';

function sameShards(shards: readonly ShardSource[], uris: readonly string[]): boolean {
  return shards.length === uris.length && shards.every((shard, i) => shard.uri === uris[i]);
}

/** Runs (or continues) the job to the end; the trained model is at `result.modelUri`. */
export async function runTrainJob(job: TrainJob, hooks: TrainJobHooks = {}): Promise<TrainJobResult> {
  const { config, outUri, imageSize } = job;
  const emit = hooks.emit ?? (() => undefined);
  emit({ type: 'phase', phase: 'loading-backend' });
  const { backend, device, info: backendInfo } = await loadTfBackend();
  emit({ type: 'backend', backend, device });

  const pointerUri = checkpointPointerUri(outUri);
  const pointer = await readJsonIfExists<CheckpointPointer>(pointerUri);
  let resumeFrom: { bundle: ModelBundle; epochsDone: number; optimizerState: OptimizerState } | undefined;
  let trained: ModelBundle | undefined;
  // trainModel frees the optimizer state it is given, and a model it created when it fails; the rest is ours.
  let stateOwned = false;
  try {
    let shards: ShardSource[];
    let preprocessing: Preprocessing;
    if (pointer) {
      emit({ type: 'phase', phase: 'resuming' });
      const { bundle, optimizerState } = await loadCheckpoint(pointer.uri);
      resumeFrom = { bundle, epochsDone: pointer.epoch, optimizerState };
      stateOwned = true;
      preprocessing = bundle.preprocessing;
      emit({ type: 'resumed', checkpoint: { epoch: pointer.epoch, uri: pointer.uri } });
      shards = sameShards(pointer.shards, job.shardUris)
        ? pointer.shards
        : (await scanShards(job.shardUris, imageSize, job.featureSpec)).shards;
    } else {
      emit({ type: 'phase', phase: 'scanning' });
      ({ shards, preprocessing } = await scanShards(job.shardUris, imageSize, job.featureSpec));
    }

    const lossHistory = pointer ? [...pointer.lossHistory] : [];
    const epochsTrained: number[] = [];
    const every = config.checkpointEveryEpochs;
    const started = performance.now();
    if (resumeFrom && resumeFrom.epochsDone >= config.epochs) {
      // The last epoch was checkpointed before the attempt ended: only the final save is left.
      trained = resumeFrom.bundle;
    } else {
      emit({ type: 'phase', phase: 'training' });
      const data = shardTrainingData({
        shards,
        preprocessing,
        seed: config.seed,
        shuffleBufferSize: config.shuffleBufferSize,
      });
      stateOwned = false;
      ({ bundle: trained } = await trainModel({
        data,
        preprocessing,
        imageSize,
        config,
        ...(resumeFrom ? { resumeFrom } : {}),
        ...(hooks.signal ? { signal: hooks.signal } : {}),
        onEpochStart: (epoch, batchesPerEpoch) => {
          epochsTrained.push(epoch);
          emit({ type: 'epoch-start', epoch, batchesPerEpoch });
        },
        onProgress: (progress) => emit({ type: 'progress', ...progress }),
        onEpochEnd: async ({ epoch, loss, bundle }) => {
          lossHistory.push(loss);
          if (epoch % every !== 0 && epoch !== config.epochs) return;
          const uri = checkpointUri(outUri, epoch);
          await saveCheckpoint(bundle, uri);
          // Written last: a pointer never names a checkpoint that is not complete.
          await writeJson(pointerUri, {
            epoch,
            uri,
            lossHistory: lossHistory.slice(0, epoch),
            shards,
          } satisfies CheckpointPointer);
          // Only now may the older checkpoint go: a crash before the pointer resumes from it, after from this one.
          // A failed delete costs only bytes, and the next checkpoint's pruning lists and retries it.
          await pruneCheckpoints(outUri, uri).catch((err: unknown) => {
            console.warn(`cannot delete older checkpoints under ${outUri}: ${String(err)}`);
          });
          emit({ type: 'checkpoint', checkpoint: { epoch, uri } });
        },
      }));
    }
    const trainingMs = performance.now() - started;
    emit({ type: 'phase', phase: 'saving' });
    const modelUri = joinUri(outUri, 'model');
    // The model says what trained it, wherever it is copied to.
    await saveModelBundle(trained, modelUri, {
      training: { ...backendInfo, epochs: config.epochs, finalLoss: lossHistory.at(-1) ?? null },
    });
    return {
      modelUri,
      backend,
      device,
      epochs: config.epochs,
      resumedFromEpoch: resumeFrom?.epochsDone ?? 0,
      epochsTrained,
      lossHistory,
      finalLoss: lossHistory.at(-1) ?? Number.NaN,
      examples: shards.reduce((sum, shard) => sum + shard.rows, 0),
      trainingMs,
    };
  } finally {
    if (stateOwned && resumeFrom) disposeOptimizerState(resumeFrom.optimizerState);
    const model = trained?.model ?? resumeFrom?.bundle.model;
    if (model) disposeModel(model);
  }
}
