/**
 * Batch prediction on gs:// as a user would run it: the dataset (CSV + images) and the store in a
 * real GCS emulator (fake-gcs-server), predictions written to the bucket, every readable row
 * predicted once keyed by its ad_id, and the corrupted rows counted as skipped with their reasons.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { queryBatchPredictStatus, startBatchPredict } from '../../scripts/clients/batch-client';
import { startPipeline } from '../../scripts/clients/pipeline-client';
import { joinUri, storageFor } from '../../lib/storage';
import type { BatchPredictResult } from '../../workflows/batch-predict';
import type { PipelineResult } from '../../contracts/temporal';
import { startGcsEmulator, type GcsEmulatorHandle } from '../helpers/gcs-emulator';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_GPU_QUEUE,
  TEST_MODEL,
  TINY_PIPELINE_CONFIG,
  type PipelineEnv,
} from '../helpers/pipeline-env';
import { makeTinyDataset } from '../helpers/tiny-dataset';

const ROWS = 80;

/** Uploads every file of a local folder under a gs:// prefix. */
async function uploadFolder(localDir: string, prefixUri: string): Promise<number> {
  const entries = await fs.readdir(localDir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile());
  await Promise.all(
    files.map(async (entry) => {
      const local = path.join(entry.parentPath, entry.name);
      const uri = joinUri(prefixUri, path.relative(localDir, local).split(path.sep).join('/'));
      await storageFor(uri).write(uri, await fs.readFile(local));
    }),
  );
  return files.length;
}

describe(
  'batch prediction on gs:// (data, store and predictions in a GCS emulator)',
  { timeout: 300_000 },
  () => {
    let gcs: GcsEmulatorHandle;
    let env: PipelineEnv;
    let dataUri: string;
    let storeUri: string;
    let adIds: string[];
    let corrupted: string[];
    let version: string;

    before(async () => {
      gcs = await startGcsEmulator({ bucket: 'mlops-batch' });
      dataUri = gcs.uri('campaigns/2026-11');
      storeUri = gcs.uri('store');
      await using dataset = await makeTinyDataset({ rows: ROWS, corrupt: 2, seed: 7 });
      assert.ok((await uploadFolder(dataset.dir, dataUri)) > ROWS);
      corrupted = dataset.result.corrupted.map((row) => row.adId);
      assert.equal(corrupted.length, 2);
      const csv = await fs.readFile(path.join(dataset.dir, 'ads.csv'), 'utf8');
      const header = csv.split('\n')[0]!.split(',');
      const idColumn = header.indexOf('ad_id');
      adIds = csv
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .map((line) => line.split(',')[idColumn]!);
      // Nothing may read the local copy: the workflows know only gs:// URIs.
      await dataset.close();
      env = await startPipelineEnv({ storeUri });
      const pipeline = await startPipeline(env.client, {
        modelName: TEST_MODEL,
        dataUri,
        featureSpecUri: await adsSpecFile(),
        config: TINY_PIPELINE_CONFIG,
        approvalRequired: false,
        taskQueue: TEST_CONTROL_QUEUE,
        workflowId: 'batch-gcs-train',
      });
      const trained = (await pipeline.result()) as PipelineResult;
      assert.equal(trained.outcome, 'production');
      version = trained.version;
    });
    after(async () => {
      await env?.close();
      await gcs?.close();
    });

    it('scores every readable row of a gs:// dataset into gs://, keyed by ad_id, and counts the skipped rows', async () => {
      const outputUri = gcs.uri('predictions/ctr-batch');
      const handle = await startBatchPredict(env.client, {
        modelName: TEST_MODEL,
        version: 'production',
        dataUri,
        outputUri,
        shardRows: 25,
        concurrency: 2,
        gpuTaskQueue: TEST_GPU_QUEUE,
        taskQueue: TEST_CONTROL_QUEUE,
        workflowId: 'batch-gcs-1',
      });
      const result = (await handle.result()) as BatchPredictResult;
      assert.equal(result.version, version);
      assert.equal(result.outputUri, outputUri);
      assert.equal(result.manifestUri, `${outputUri}/manifest.json`);
      assert.equal(result.shards.length, Math.ceil(ROWS / 25));

      const storage = storageFor(outputUri);
      const written = (await storage.list(outputUri)).map((uri) => uri.slice(outputUri.length + 1));
      assert.deepEqual(
        written.filter((name) => name.endsWith('.jsonl')),
        result.shards.map((shard) => path.posix.basename(shard.predictionsUri)),
      );
      const predictions = new Map<string, number>();
      for (const shard of result.shards) {
        assert.ok(shard.predictionsUri.startsWith(`${outputUri}/`), shard.predictionsUri);
        const text = (await storage.read(shard.predictionsUri)).toString('utf8');
        for (const line of text.split('\n').filter(Boolean)) {
          const row = JSON.parse(line) as { ad_id: string; click_probability: number; model_version: string };
          assert.ok(!predictions.has(row.ad_id), `${row.ad_id} predicted once`);
          assert.ok(row.click_probability > 0 && row.click_probability < 1, line);
          assert.equal(row.model_version, version);
          predictions.set(row.ad_id, row.click_probability);
        }
      }
      const readable = adIds.filter((id) => !corrupted.includes(id));
      assert.deepEqual([...predictions.keys()].sort(), readable.sort(), 'every readable row, by ad_id');
      assert.equal(result.rows, readable.length);
      assert.equal(result.skipped.rows, corrupted.length);
      assert.ok(result.skipped.quarantineUris.every((uri) => uri.startsWith(`${storeUri}/`)));

      const manifest = JSON.parse(
        (await storage.read(result.manifestUri)).toString('utf8'),
      ) as BatchPredictResult;
      assert.equal(manifest.rows, readable.length);
      assert.equal(manifest.dataUri, dataUri);
      assert.deepEqual(manifest.skipped, result.skipped);

      // The Web UI shows the progress as the workflow's current details.
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(metadata.currentDetails ?? '', /Stage: \*\*done\*\*/);
      assert.match(
        metadata.currentDetails ?? '',
        new RegExp(`Scoring: 4/4 shards, ${readable.length} rows scored`),
      );
      assert.match(metadata.currentDetails ?? '', new RegExp(`Skipped: ${corrupted.length} rows \\(`));
      assert.ok(metadata.currentDetails?.includes(outputUri), metadata.currentDetails);

      const status = await queryBatchPredictStatus(env.client, 'batch-gcs-1');
      assert.equal(status.stage, 'done');
      assert.equal(status.rowsScored, readable.length);
      assert.equal(status.rowsSkipped, corrupted.length);
      assert.equal(
        Object.values(status.skipReasons).reduce((sum, count) => sum + count, 0),
        corrupted.length,
      );
    });

    it('writes to the gs:// store by default, and a re-run of the same id reuses every shard in the bucket', async () => {
      const run = async () =>
        (await (
          await startBatchPredict(env.client, {
            modelName: TEST_MODEL,
            version,
            dataUri,
            shardRows: 40,
            gpuTaskQueue: TEST_GPU_QUEUE,
            taskQueue: TEST_CONTROL_QUEUE,
            workflowId: 'batch-gcs-2',
          })
        ).result()) as BatchPredictResult;
      const first = await run();
      assert.equal(first.outputUri, joinUri(storeUri, 'predictions', TEST_MODEL, 'batch-gcs-2'));
      assert.equal(first.reusedShards, 0);
      const generations = await Promise.all(
        first.shards.map(
          async (shard) =>
            (await storageFor(shard.predictionsUri).readVersioned(shard.predictionsUri))!.generation,
        ),
      );
      const again = await run();
      assert.equal(again.reusedShards, again.shards.length);
      assert.equal(again.rows, first.rows);
      assert.deepEqual(
        await Promise.all(
          again.shards.map(
            async (shard) =>
              (await storageFor(shard.predictionsUri).readVersioned(shard.predictionsUri))!.generation,
          ),
        ),
        generations,
        'the reused predictions were not rewritten',
      );
    });
  },
);
