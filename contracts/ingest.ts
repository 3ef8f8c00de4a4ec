/** Inputs and results of the ingest activities: what workflows and later stages see of ingest. */

/**
 * Version of the shard layout (a column per stored spec column, the spec in the schema metadata).
 * Recorded with every model, so a model names the layout it was trained on; bump it on any
 * incompatible change. Version 1 was the ads' fixed columns.
 */
export const DATASET_SCHEMA_VERSION = 2;

export interface IngestInput {
  dataUri: string;
  imageSize: number;
  evalFraction: number;
  /**
   * Rows to score, not to learn from (batch prediction): the label column may be absent, and a
   * row's label is kept when it is one of the spec's values and stored as null otherwise.
   */
  unlabelled?: boolean;
}

/** A quarantined row: where it is and why; the reason's kind is the text before its first colon. */
export interface QuarantinedRow {
  /** The CSV's path relative to the dataset URI (sharded ingest; the single ingest reads ads.csv only). */
  file?: string;
  line: number;
  /** The row's id (the spec's id column), when it has one. */
  adId?: string;
  reason: string;
}

export interface IngestResult {
  dataUri: string;
  /** The first train shard; trainUris lists them all (sharded ingest). */
  trainUri: string;
  /** The first eval shard; evalUris lists them all (sharded ingest). */
  evalUri: string;
  /** Quarantined rows, one JSON object per line; from sharded ingest, the first QUARANTINE_SAMPLE_ROWS of them. */
  quarantineUri: string;
  imageSize: number;
  rowsRead: number;
  trainRows: number;
  evalRows: number;
  quarantinedRows: number;
  quarantineReasons: Record<string, number>;
  /** DATASET_SCHEMA_VERSION of the shards. */
  schemaVersion: number;
  /** sha256 over the CSV and every image read, so a model names exactly the data it saw. */
  fingerprint: string;
  /** Every train shard, in dataset order (sharded ingest; absent from the single ingest's results). */
  trainUris?: string[];
  /** Every eval shard, in dataset order (sharded ingest). */
  evalUris?: string[];
  /** Every non-empty quarantine file (sharded ingest): together they hold every quarantined row. */
  quarantineUris?: string[];
  /** The feature spec the shards follow; absent from runs recorded before specs (the ads). */
  featureSpecUri?: string;
  featureSpecSource?: string;
}

/** What the sharded ingest (planIngest → ingestShard × N → finishIngest) returns. */
export interface ShardedIngestResult extends IngestResult {
  trainUris: string[];
  evalUris: string[];
  quarantineUris: string[];
  planUri: string;
  shardCount: number;
  /** Shards found already ingested (same data, same parameters) and reused, not recomputed. */
  reusedShards: number;
  /** Rows quarantined because another shard held their id first (included in quarantinedRows). */
  duplicatesAcrossShards: number;
  /** CSVs under the prefix that were not read as data (the generator's ground truth). */
  skippedFiles: string[];
}

export interface PlanIngestInput extends IngestInput {
  /** Rows per shard (data.shardRows). */
  shardRows: number;
  /** The feature spec the user gave (`pipeline start --features`), in the store. */
  featureSpecUri?: string;
  /** Without a given spec, the production version of this model lends its spec. */
  modelName?: string;
}

/** The feature spec a run read its data by, and where it came from. */
export interface IngestFeatureSpec {
  /** The spec as the run used it (the stage's features.json). */
  featureSpecUri: string;
  /** "given: URI", "production version N of MODEL" or "inferred from the data …". */
  featureSpecSource: string;
}

/** A plan's URI and size: the full plan stays in the store, out of workflow history. */
export interface PlanIngestResult extends IngestFeatureSpec {
  planUri: string;
  shardCount: number;
  /** Rows per shard: data.shardRows, or fewer for large images (see SHARD_PIXEL_BUDGET_BYTES). */
  shardRows: number;
  files: number;
  rowsPlanned: number;
  skippedFiles: string[];
}

export interface IngestShardInput {
  planUri: string;
  shardIndex: number;
  /** Images fetched and decoded at once within the shard (data.imageConcurrency). */
  imageConcurrency?: number;
}

/** A shard's counts, for progress; finishIngest reads the full outcome from the store. */
export interface IngestShardResult {
  shardIndex: number;
  rowsRead: number;
  trainRows: number;
  evalRows: number;
  quarantinedRows: number;
  reused: boolean;
}

export interface FinishIngestInput {
  planUri: string;
}
