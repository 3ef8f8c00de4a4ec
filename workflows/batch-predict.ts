/**
 * `batchPredict`: score every row of a dataset with one registered model version. Ingest (planned,
 * then sharded on the control queue, reusing shards already ingested from the same bytes), then
 * one scoring activity per ingested shard on the GPU queue, at most `concurrency` at once, then a
 * manifest. Outputs sit at URIs fixed by the workflow id, so a re-run skips finished shards.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ControlActivities, GpuActivities } from '../activities';
import type { BatchPredictManifest, PredictShardResult } from '../activities/predict';
import { withSummaries } from './activity-summaries';
import { GPU_TASK_QUEUE } from './definitions';
import { ingestInShards } from './ingest-fanout';

export interface BatchPredictInput {
  modelName: string;
  /** A registry version number, or `production`. */
  version: string;
  /** A dataset folder like the pipeline's (ads.csv + images), local or gs://. */
  dataUri: string;
  /** Where predictions go; by default `<store>/predictions/<model>/<workflow id>`. */
  outputUri?: string;
  /** Rows per ingest (and scoring) shard; 1000 unless told. */
  shardRows?: number;
  /** Shard activities in flight at once; 4 unless told. */
  concurrency?: number;
  /** The GPU workers' task queue; `ml-gpu` unless told. */
  gpuTaskQueue?: string;
}

export interface BatchPredictResult extends BatchPredictManifest {
  manifestUri: string;
  outputUri: string;
  /** Shards whose predictions a previous attempt or run had already written. */
  reusedShards: number;
}

export const DEFAULT_BATCH_SHARD_ROWS = 1000;
export const DEFAULT_BATCH_CONCURRENCY = 4;

const retry = { maximumAttempts: 5, initialInterval: '1 second' };

export async function batchPredict(input: BatchPredictInput): Promise<BatchPredictResult> {
  const control = withSummaries(
    proxyActivities<ControlActivities>({
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: '2 minutes',
      retry,
    }),
  );
  const gpu = withSummaries(
    proxyActivities<GpuActivities>({
      taskQueue: input.gpuTaskQueue ?? GPU_TASK_QUEUE,
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: '2 minutes',
      retry,
    }),
  );
  const concurrency = Math.max(1, Math.floor(input.concurrency ?? DEFAULT_BATCH_CONCURRENCY));

  const model = await control.resolveBatchModel({
    model: input.modelName,
    version: input.version,
    ...(input.outputUri ? { outputUri: input.outputUri } : {}),
  });
  // evalFraction 0 puts every row in the train split, so the train shards hold the whole dataset.
  const ingest = await ingestInShards(
    control,
    {
      dataUri: input.dataUri,
      imageSize: model.imageSize,
      evalFraction: 0,
      shardRows: input.shardRows ?? DEFAULT_BATCH_SHARD_ROWS,
    },
    { concurrency },
  );
  const inputUris = ingest.trainUris;

  const shards: PredictShardResult[] = new Array<PredictShardResult>(inputUris.length);
  let next = 0;
  const lane = async () => {
    while (next < inputUris.length) {
      const shardIndex = next++;
      shards[shardIndex] = await gpu.predictShard({
        model: model.model,
        version: model.version,
        modelUri: model.modelUri,
        inputUri: inputUris[shardIndex]!,
        outputUri: model.outputUri,
        shardIndex,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, inputUris.length) }, lane));

  const manifest = await control.finishBatchPredict({
    model: model.model,
    version: model.version,
    modelUri: model.modelUri,
    dataUri: input.dataUri,
    outputUri: model.outputUri,
    shards,
  });
  return {
    ...manifest,
    outputUri: model.outputUri,
    reusedShards: shards.filter((shard) => shard.reused).length,
  };
}
