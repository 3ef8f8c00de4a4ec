/**
 * Sharded ingest as workflow steps: plan, then every shard with at most `concurrency` shard
 * activities in flight, then finish. Workflow-safe: activities come in as a proxy and the pool is
 * plain promises, so a replay schedules the same shards in the same order.
 */
import type {
  FinishIngestInput,
  IngestShardInput,
  IngestShardResult,
  PlanIngestInput,
  PlanIngestResult,
  ShardedIngestResult,
} from '../contracts/ingest';

/** The three ingest activities, as a proxyActivities (or withSummaries) object provides them. */
export interface IngestActivities {
  planIngest(input: PlanIngestInput): Promise<PlanIngestResult>;
  ingestShard(input: IngestShardInput): Promise<IngestShardResult>;
  finishIngest(input: FinishIngestInput): Promise<ShardedIngestResult>;
}

export interface IngestInShardsInput extends PlanIngestInput {
  /** data.imageConcurrency: images each shard activity fetches and decodes at once. */
  imageConcurrency?: number;
}

/** Where the fan-out stands, after the plan and after each shard. */
export interface IngestProgress {
  planUri: string;
  shardCount: number;
  shardsDone: number;
  rowsPlanned: number;
  reusedShards: number;
}

export interface IngestInShardsOptions {
  /** data.ingestConcurrency: shard activities in flight at once (at least 1). */
  concurrency: number;
  /** Called after the plan and after every shard, e.g. to update the workflow's status. */
  onProgress?: (progress: IngestProgress) => void;
}

/**
 * Runs planIngest, ingestShard for every shard (at most `concurrency` at once, in shard order),
 * then finishIngest. The first shard that fails for good fails the whole ingest; no new shard
 * starts after it, and shards already finished stay in the store for the next run to reuse.
 */
export async function ingestInShards(
  activities: IngestActivities,
  input: IngestInShardsInput,
  options: IngestInShardsOptions,
): Promise<ShardedIngestResult> {
  const { imageConcurrency, ...planInput } = input;
  const plan = await activities.planIngest(planInput);
  const progress: IngestProgress = {
    planUri: plan.planUri,
    shardCount: plan.shardCount,
    shardsDone: 0,
    rowsPlanned: plan.rowsPlanned,
    reusedShards: 0,
  };
  options.onProgress?.({ ...progress });

  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < plan.shardCount) {
      const shardIndex = next++;
      try {
        const shard = await activities.ingestShard({
          planUri: plan.planUri,
          shardIndex,
          ...(imageConcurrency === undefined ? {} : { imageConcurrency }),
        });
        progress.shardsDone += 1;
        if (shard.reused) progress.reusedShards += 1;
        options.onProgress?.({ ...progress });
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = Math.max(1, Math.min(Math.floor(options.concurrency), plan.shardCount));
  await Promise.all(Array.from({ length: lanes }, lane));
  return activities.finishIngest({ planUri: plan.planUri });
}
