/**
 * `batchPredict`: score every row of a dataset with one registered model version. Ingest (planned,
 * then sharded on the control queue, reusing shards already ingested from the same bytes), then
 * one scoring activity per ingested shard on the GPU queue, at most `concurrency` at once, then a
 * manifest. Outputs sit at URIs fixed by the workflow id, so a re-run skips finished shards; a
 * crashed GPU worker's shard is retried elsewhere once its heartbeat times out. The `status` query
 * and the Web UI's current details show the progress.
 */
import { isCancellation, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { ControlActivities, GpuActivities } from '../activities';
import type { PredictShardResult } from '../contracts/batch-predict';
import { withSummaries } from './activity-summaries';
import { rootMessage } from '../contracts/failures';
import {
  batchPredictDetails,
  batchPredictStatusQuery,
  DEFAULT_BATCH_CONCURRENCY,
  DEFAULT_BATCH_HEARTBEAT_TIMEOUT_SECONDS,
  DEFAULT_BATCH_SHARD_ROWS,
  type BatchPredictInput,
  type BatchPredictResult,
  type BatchPredictStatus,
} from '../contracts/batch-predict';
import { GPU_TASK_QUEUE } from '../contracts/temporal';
import { ingestInShards } from './ingest-fanout';

export {
  DEFAULT_BATCH_CONCURRENCY,
  DEFAULT_BATCH_SHARD_ROWS,
  type BatchPredictInput,
  type BatchPredictResult,
  type BatchPredictStatus,
} from '../contracts/batch-predict';

const retry = { maximumAttempts: 5, initialInterval: '1 second' };

/** The message a person reads: an activity failure's cause, not "Activity task failed". */
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
      heartbeatTimeout: `${input.heartbeatTimeoutSeconds ?? DEFAULT_BATCH_HEARTBEAT_TIMEOUT_SECONDS} seconds`,
      retry,
    }),
  );
  const concurrency = Math.max(1, Math.floor(input.concurrency ?? DEFAULT_BATCH_CONCURRENCY));

  const status: BatchPredictStatus = {
    modelName: input.modelName,
    requestedVersion: input.version,
    dataUri: input.dataUri,
    stage: 'resolving',
    shardsDone: 0,
    shardsTotal: 0,
    shardsReused: 0,
    rowsScored: 0,
    rowsSkipped: 0,
    skipReasons: {},
  };
  setHandler(batchPredictStatusQuery, () => status, {
    description: 'Progress: stage, shards done of total, rows scored and skipped (by reason), output URI',
  });
  const report = (changes: Partial<BatchPredictStatus> = {}) => {
    Object.assign(status, changes);
    setCurrentDetails(batchPredictDetails(status));
  };
  report();

  try {
    const model = await control.resolveBatchModel({
      model: input.modelName,
      version: input.version,
      ...(input.outputUri ? { outputUri: input.outputUri } : {}),
    });
    report({ stage: 'ingesting', version: model.version, outputUri: model.outputUri });
    // evalFraction 0 puts every row in the train split, so the train shards hold the whole dataset.
    const ingest = await ingestInShards(
      control,
      {
        dataUri: input.dataUri,
        imageSize: model.imageSize,
        evalFraction: 0,
        // Rows to score need no label.
        unlabelled: true,
        shardRows: input.shardRows ?? DEFAULT_BATCH_SHARD_ROWS,
        ...(model.featureSpecUri ? { featureSpecUri: model.featureSpecUri } : {}),
      },
      {
        concurrency,
        onProgress: ({ shardsDone, shardCount, rowsPlanned, reusedShards }) =>
          report({ ingest: { shardsDone, shardCount, rowsPlanned, reusedShards } }),
      },
    );
    const inputUris = ingest.trainUris;
    report({
      stage: 'scoring',
      shardsTotal: inputUris.length,
      rowsSkipped: ingest.quarantinedRows,
      skipReasons: ingest.quarantineReasons,
    });

    const shards: PredictShardResult[] = new Array<PredictShardResult>(inputUris.length);
    let next = 0;
    const lane = async () => {
      while (next < inputUris.length) {
        const shardIndex = next++;
        const shard = await gpu.predictShard({
          model: model.model,
          version: model.version,
          modelUri: model.modelUri,
          inputUri: inputUris[shardIndex]!,
          outputUri: model.outputUri,
          shardIndex,
        });
        shards[shardIndex] = shard;
        report({
          shardsDone: status.shardsDone + 1,
          shardsReused: status.shardsReused + (shard.reused ? 1 : 0),
          rowsScored: status.rowsScored + shard.rows,
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, inputUris.length) }, lane));

    report({ stage: 'finishing' });
    const manifest = await control.finishBatchPredict({
      model: model.model,
      version: model.version,
      modelUri: model.modelUri,
      dataUri: input.dataUri,
      outputUri: model.outputUri,
      shards,
      skipped: {
        rows: ingest.quarantinedRows,
        reasons: ingest.quarantineReasons,
        quarantineUris: ingest.quarantineUris,
      },
    });
    report({ stage: 'done', manifestUri: manifest.manifestUri });
    return {
      ...manifest,
      outputUri: model.outputUri,
      reusedShards: status.shardsReused,
    };
  } catch (err) {
    report(
      isCancellation(err)
        ? {
            stage: 'cancelled',
            message: 'cancelled; finished shards are kept for a re-run under the same id',
          }
        : { stage: 'failed', message: rootMessage(err) },
    );
    throw err;
  }
}
