/**
 * Ingest: read a dataset's CSVs and images into train/eval Arrow shards, quarantining every row
 * that cannot be read with its line and reason.
 *
 * Sharded (for data of any size): planIngest cuts the CSVs into shards of `shardRows` rows,
 * ingestShard ingests one (run it for every shard, a few at a time: see
 * workflows/ingest-fanout.ts), finishIngest merges them. Shards are stored by content, so a crash
 * loses no finished shard and any run on the same data reuses them.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { mergeShards, MAX_RESULT_JSON_BYTES, shardOutcomeUri } from './finish';
import { DatasetError, planDataset, readShardSpec, type IngestPlan } from './plan';
import { ingestShardOnThread } from './shard-threads';
import { resolveFeatureSpec } from './feature-spec-source';
import type {
  FinishIngestInput,
  IngestShardInput,
  IngestShardResult,
  PlanIngestInput,
  PlanIngestResult,
  ShardedIngestResult,
} from '../../contracts/ingest';
import { DATASET_SCHEMA_VERSION } from '../../contracts/ingest';
import { joinUri, readJsonIfExists, writeJson } from '../../lib/storage/index';
import { type ActivityDeps, stageUri } from '../deps';
import { FAILURE } from '../../contracts/failures';

/** Images a shard fetches and decodes at once when the input does not say. */
export const DEFAULT_IMAGE_CONCURRENCY = 8;
/** How many skipped files a plan's result names (the plan itself lists them all). */
const LISTED_SKIPPED_FILES = 20;

/** A problem with the data itself fails the stage for good, with its message; anything else is retried. */
async function failingPermanentlyOnBadData<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DatasetError) {
      throw ApplicationFailure.create({ nonRetryable: true, type: FAILURE.BadDataset, message: err.message });
    }
    throw err;
  }
}

async function readPlan(planUri: string): Promise<IngestPlan> {
  const plan = await readJsonIfExists<IngestPlan>(planUri);
  if (!plan) throw new DatasetError(`no ingest plan at ${planUri}: run planIngest first`);
  return plan;
}

export function createIngestActivities(deps: ActivityDeps) {
  return {
    /**
     * Lists every CSV under dataUri, checks their encoding and headers, and cuts them into shards of
     * about shardRows rows in one streaming pass; the plan goes to the run's ingest folder.
     */
    async planIngest(input: PlanIngestInput): Promise<PlanIngestResult> {
      const outUri = stageUri(deps.storeUri, 'ingest');
      const planUri = joinUri(outUri, 'plan.json');
      const plan =
        (await readJsonIfExists<IngestPlan>(planUri)) ??
        (await failingPermanentlyOnBadData(async () => {
          const { featureSpecUri: given, modelName, ...parameters } = input;
          const { spec, source } = await resolveFeatureSpec({
            dataUri: input.dataUri,
            storeUri: deps.storeUri,
            ...(given ? { featureSpecUri: given } : {}),
            ...(modelName ? { modelName } : {}),
          });
          const featureSpecUri = joinUri(outUri, 'features.json');
          await writeJson(featureSpecUri, spec);
          return planDataset({
            ...parameters,
            spec,
            featureSpecSource: source,
            featureSpecUri,
            outUri,
            onProgress: (rowsPlanned) => Context.current().heartbeat({ rowsPlanned }),
          });
        }));
      return {
        featureSpecUri: plan.featureSpecUri,
        featureSpecSource: plan.featureSpecSource,
        planUri,
        shardCount: plan.shardCount,
        shardRows: plan.shardRows,
        files: plan.files.length,
        rowsPlanned: plan.rowsPlanned,
        skippedFiles: plan.skippedFiles.slice(0, LISTED_SKIPPED_FILES),
      };
    },

    /** Ingests one shard of a plan, or reuses it when the same data was ingested before (by any run). */
    async ingestShard(input: IngestShardInput): Promise<IngestShardResult> {
      const context = Context.current();
      const outcomeUri = shardOutcomeUri(stageUri(deps.storeUri, 'ingest'), input.shardIndex);
      const outcome = await failingPermanentlyOnBadData(async () => {
        const { parameters, spec } = await readShardSpec(input.planUri, input.shardIndex);
        return ingestShardOnThread({
          storeUri: deps.storeUri,
          parameters,
          spec,
          imageConcurrency: input.imageConcurrency ?? DEFAULT_IMAGE_CONCURRENCY,
          signal: context.cancellationSignal,
          onProgress: (progress) => context.heartbeat({ shardIndex: input.shardIndex, ...progress }),
        });
      });
      await writeJson(outcomeUri, outcome);
      const { shardIndex, rowsRead, trainRows, evalRows, quarantinedRows, reused } = outcome;
      return { shardIndex, rowsRead, trainRows, evalRows, quarantinedRows, reused };
    },

    /**
     * Merges the shards of a plan into the stage's result: counts, quarantine reasons, shard lists
     * and one fingerprint; quarantines ids repeated across shards. Whether there are too many
     * bad rows is validation's call.
     */
    async finishIngest({ planUri }: FinishIngestInput): Promise<ShardedIngestResult> {
      const outUri = stageUri(deps.storeUri, 'ingest');
      const summaryUri = joinUri(outUri, 'summary.json');
      const previous = await readJsonIfExists<ShardedIngestResult>(summaryUri);
      if (previous) return previous;
      return failingPermanentlyOnBadData(async () => {
        const plan = await readPlan(planUri);
        const merged = await mergeShards(plan, outUri);
        const result: ShardedIngestResult = {
          dataUri: plan.dataUri,
          trainUri: merged.trainUris[0]!,
          evalUri: merged.evalUris[0]!,
          imageSize: plan.imageSize,
          schemaVersion: DATASET_SCHEMA_VERSION,
          planUri,
          shardCount: plan.shardCount,
          featureSpecUri: plan.featureSpecUri,
          featureSpecSource: plan.featureSpecSource,
          skippedFiles: plan.skippedFiles.slice(0, LISTED_SKIPPED_FILES),
          ...merged,
        };
        const size = JSON.stringify(result).length;
        if (size > MAX_RESULT_JSON_BYTES) {
          throw new DatasetError(
            `${plan.shardCount} shards are too many to list in the workflow (${size} bytes of shard URIs); ` +
              `raise data.shardRows above ${plan.shardRows} so there are fewer`,
          );
        }
        await writeJson(summaryUri, result);
        return result;
      });
    },
  };
}
