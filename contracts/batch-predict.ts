/**
 * The `batchPredict` workflow's interface: its input, result, activity inputs and outputs, `status` query and the Markdown it
 * shows in the Web UI. Workflow-safe: types, pure functions and `@temporalio/workflow` definitions.
 */
import { defineQuery } from '@temporalio/workflow';

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
  /**
   * How long a scoring shard may go without a heartbeat before Temporal retries it elsewhere (a
   * crashed GPU worker); 60 unless told. A shard heartbeats after loading its model and every chunk.
   */
  heartbeatTimeoutSeconds?: number;
}

export interface BatchPredictResult extends BatchPredictManifest {
  manifestUri: string;
  outputUri: string;
  /** Shards whose predictions a previous attempt or run had already written. */
  reusedShards: number;
}

export const DEFAULT_BATCH_SHARD_ROWS = 1000;
export const DEFAULT_BATCH_CONCURRENCY = 4;
export const DEFAULT_BATCH_HEARTBEAT_TIMEOUT_SECONDS = 60;

export type BatchPredictStage =
  'resolving' | 'ingesting' | 'scoring' | 'finishing' | 'done' | 'failed' | 'cancelled';

/** What the `status` query answers while (and after) a batch prediction runs. */
export interface BatchPredictStatus {
  modelName: string;
  /** As asked: a version number or `production`. */
  requestedVersion: string;
  /** The registry version being scored with, once resolved. */
  version?: string;
  dataUri: string;
  /** Where predictions go, once resolved. */
  outputUri?: string;
  stage: BatchPredictStage;
  /** The ingest fan-out (reading the CSVs and images into shards), once planned. */
  ingest?: { shardsDone: number; shardCount: number; rowsPlanned: number; reusedShards: number };
  /** Scoring shards finished (scored now or reused), of shardsTotal. */
  shardsDone: number;
  shardsTotal: number;
  /** Of shardsDone: found already written by an earlier attempt or run. */
  shardsReused: number;
  rowsScored: number;
  /** Rows ingest quarantined (unreadable CSV row, bad image, duplicate ad_id): no prediction. */
  rowsSkipped: number;
  /** rowsSkipped by reason kind. */
  skipReasons: Record<string, number>;
  manifestUri?: string;
  /** Why it failed or stopped, when stage is `failed` or `cancelled`. */
  message?: string;
}

export const batchPredictStatusQuery = defineQuery<BatchPredictStatus>('status');

/** The status as Markdown, for the Web UI's current details. */
export function batchPredictDetails(status: BatchPredictStatus): string {
  const version = status.version ? `v${status.version}` : status.requestedVersion;
  const lines = [`**Batch prediction** of \`${status.dataUri}\` with ${status.modelName} ${version}`, ''];
  lines.push(`- Stage: **${status.stage}**${status.message ? `: ${status.message}` : ''}`);
  if (status.ingest) {
    const { shardsDone, shardCount, rowsPlanned, reusedShards } = status.ingest;
    lines.push(
      `- Ingest: ${shardsDone}/${shardCount} shards (${rowsPlanned} rows planned${reusedShards ? `, ${reusedShards} shards reused` : ''})`,
    );
  }
  if (status.shardsTotal > 0) {
    lines.push(
      `- Scoring: ${status.shardsDone}/${status.shardsTotal} shards, ${status.rowsScored} rows scored` +
        `${status.shardsReused ? ` (${status.shardsReused} shards reused)` : ''}`,
    );
  }
  if (status.rowsSkipped > 0)
    lines.push(`- Skipped: ${status.rowsSkipped} rows (${formatReasons(status.skipReasons)})`);
  if (status.outputUri) lines.push(`- Output: \`${status.outputUri}\``);
  if (status.manifestUri) lines.push(`- Manifest: \`${status.manifestUri}\``);
  return lines.join('\n');
}

/** `image: 2, csv: 1`, largest first. */
export function formatReasons(reasons: Record<string, number>): string {
  return Object.entries(reasons)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([reason, count]) => `${reason}: ${count}`)
    .join(', ');
}

export interface ResolveBatchModelInput {
  model: string;
  /** A registry version number, or `production`. */
  version: string;
  /** Where predictions go; by default `<store>/predictions/<model>/<workflow id>`. */
  outputUri?: string;
}

export interface BatchModel {
  model: string;
  version: string;
  modelUri: string;
  /** The image size the model was trained with, which ingest must resize to. */
  imageSize: number;
  outputUri: string;
  /** The version's feature spec, which ingest reads the rows by; absent from jobs recorded before specs. */
  featureSpecUri?: string;
}

export interface PredictShardInput {
  model: string;
  version: string;
  modelUri: string;
  /** An ingested Arrow shard. */
  inputUri: string;
  outputUri: string;
  shardIndex: number;
}

export interface PredictShardResult {
  shardIndex: number;
  inputUri: string;
  /** JSON Lines per row: the spec's id column (or `row`), its output name (the ads: `click_probability`), `model_version`. */
  predictionsUri: string;
  rows: number;
  /** True when a finished output of the same input and model was found and kept. */
  reused: boolean;
}

export interface FinishBatchPredictInput {
  model: string;
  version: string;
  modelUri: string;
  dataUri: string;
  outputUri: string;
  shards: PredictShardResult[];
  /** Rows ingest quarantined, which have no prediction. */
  skipped?: SkippedRows;
}

/** Rows left unscored: how many, why, and where the quarantine lists them. */
export interface SkippedRows {
  rows: number;
  /** Counts by reason kind (`image`, `csv`, `duplicate`, ...). */
  reasons: Record<string, number>;
  /** JSON Lines files of the quarantined rows, each with its reason. */
  quarantineUris: string[];
}

export interface BatchPredictManifest {
  model: string;
  version: string;
  modelUri: string;
  dataUri: string;
  rows: number;
  shards: Array<Pick<PredictShardResult, 'shardIndex' | 'inputUri' | 'predictionsUri' | 'rows'>>;
  skipped: SkippedRows;
}
