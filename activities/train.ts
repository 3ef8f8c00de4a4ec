/**
 * Train: fit the model on the train shard, heartbeating progress and checkpointing every epoch,
 * so a retried attempt resumes from the last finished epoch instead of the first.
 */
import { Context, log } from '@temporalio/activity';
import { readShard } from '../lib/dataset/shards';
import type { PipelineConfig } from '../lib/config-schema';
import {
  disposeModel,
  loadModelBundle,
  loadTfBackend,
  saveModelBundle,
  trainModel,
  type ModelBundle,
} from '../lib/model';
import { joinUri, readJsonIfExists, writeJson } from '../lib/storage';
import { type ActivityDeps, stageUri } from './deps';

export interface TrainInput {
  trainUri: string;
  imageSize: number;
  train: PipelineConfig['train'];
}

export interface TrainResult {
  modelUri: string;
  backend: string;
  device: string;
  epochs: number;
  /** Epochs this attempt trained itself; fewer than `epochs` when it resumed from a checkpoint. */
  epochsTrainedThisAttempt: number;
  finalLoss: number;
  examples: number;
}

/** What a heartbeat carries, and what a retried attempt reads back to resume. */
export interface TrainHeartbeat {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  loss: number;
  checkpoint?: { epoch: number; uri: string };
  backend: string;
  device: string;
}

interface CheckpointPointer {
  epoch: number;
  uri: string;
  lossHistory: number[];
}

export function createTrainActivities(deps: ActivityDeps) {
  return {
    /** Trains the candidate model; idempotent per workflow run and resumable per epoch. */
    async trainModel(input: TrainInput): Promise<TrainResult> {
      const outUri = stageUri(deps.storeUri, 'train');
      const resultUri = joinUri(outUri, 'result.json');
      const finished = await readJsonIfExists<TrainResult>(resultUri);
      if (finished) return finished;

      const context = Context.current();
      const { backend, device } = await loadTfBackend();
      log.info('training on', { backend, device });
      const { examples } = await readShard(input.trainUri);

      const pointerUri = joinUri(outUri, 'checkpoints', 'latest.json');
      const pointer = await readJsonIfExists<CheckpointPointer>(pointerUri);
      const resumeFrom = pointer
        ? { bundle: await loadModelBundle(pointer.uri), epochsDone: pointer.epoch }
        : undefined;
      if (pointer) log.info('resuming training from checkpoint', { epoch: pointer.epoch, uri: pointer.uri });
      let lastCheckpoint = pointer ? { epoch: pointer.epoch, uri: pointer.uri } : undefined;
      const lossHistory = pointer ? [...pointer.lossHistory] : [];

      // This worker is long-lived and may hold a GPU, so every model is freed whatever fails. trainModel
      // frees a model it created itself when it fails, but a resumed one stays ours; on success the
      // returned model is either the resumed one or a new one, and either way ours to free.
      let trained: ModelBundle | undefined;
      let newLosses: number[];
      const modelUri = joinUri(outUri, 'model');
      try {
        ({ bundle: trained, lossHistory: newLosses } = await trainModel({
          examples,
          imageSize: input.imageSize,
          config: input.train,
          resumeFrom,
          signal: context.cancellationSignal,
          onProgress: async (progress) => {
            context.heartbeat({
              ...progress,
              checkpoint: lastCheckpoint,
              backend,
              device,
            } satisfies TrainHeartbeat);
            // Yield so the heartbeat and any cancellation actually reach the server mid-epoch.
            await new Promise((resolve) => setImmediate(resolve));
          },
          onEpochEnd: async ({ epoch, loss, bundle: snapshot }) => {
            const uri = joinUri(outUri, 'checkpoints', `epoch-${epoch}`);
            await saveModelBundle(snapshot, uri);
            lossHistory.push(loss);
            lastCheckpoint = { epoch, uri };
            await writeJson(pointerUri, { epoch, uri, lossHistory } satisfies CheckpointPointer);
          },
        }));
        await saveModelBundle(trained, modelUri);
      } finally {
        const model = trained?.model ?? resumeFrom?.bundle.model;
        if (model) disposeModel(model);
      }
      const result: TrainResult = {
        modelUri,
        backend,
        device,
        epochs: input.train.epochs,
        epochsTrainedThisAttempt: newLosses.length,
        finalLoss: lossHistory.at(-1) ?? newLosses.at(-1) ?? Number.NaN,
        examples: examples.length,
      };
      await writeJson(resultUri, result);
      return result;
    },
  };
}
