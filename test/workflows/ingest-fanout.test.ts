/**
 * ingestInShards on a Temporal test server, with the real ingest activities on a small synthetic
 * dataset cut into several shards: bounded fan-out, every row accounted for, reuse by a second
 * run, and a history that replays.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createIngestActivities } from '../../activities/ingest/ingest';
import type { IngestShardInput } from '../../contracts/ingest';
import { readShard } from '../../lib/dataset/shards';
import type { ingestFanout } from '../helpers/ingest-fanout-workflow';
import { createTimeSkippingEnv, type TimeSkippingEnv } from '../helpers/time-skipping';
import { makeTinyDataset, type TinyDataset } from '../helpers/tiny-dataset';
import { silentLogger as quiet } from '../helpers/quiet-logger';

const TASK_QUEUE = 'ingest-fanout-test';
const CONCURRENCY = 3;

describe('ingestInShards', { timeout: 300_000 }, () => {
  let env: TimeSkippingEnv;
  let dataset: TinyDataset;
  let storeUri: string;
  let worker: Worker;
  let workflowBundle: WorkflowBundle;
  let running: Promise<void>;
  let inFlight = 0;
  let maxInFlight = 0;
  const shardsStarted: number[] = [];

  before(async () => {
    [env, dataset, storeUri] = await Promise.all([
      createTimeSkippingEnv(),
      makeTinyDataset({ rows: 40, seed: 21, corrupt: 3 }),
      fs.mkdtemp(path.join(os.tmpdir(), 'mlops-fanout-store-')),
    ]);
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../helpers/ingest-fanout-workflow'),
      logger: quiet,
    });
    const activities = createIngestActivities({ storeUri, servingUrls: [], adminToken: 'unused' });
    worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue: TASK_QUEUE,
      workflowBundle,
      activities: {
        ...activities,
        // Counts shard activities in flight, to check the fan-out's bound.
        async ingestShard(input: IngestShardInput) {
          shardsStarted.push(input.shardIndex);
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          try {
            return await activities.ingestShard(input);
          } finally {
            inFlight -= 1;
          }
        },
      },
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
    await dataset?.close();
    if (storeUri) await fs.rm(storeUri, { recursive: true, force: true });
  });

  const run = async (workflowId: string) =>
    env.client.workflow.execute<typeof ingestFanout>('ingestFanout', {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [
        {
          data: {
            dataUri: dataset.dir,
            imageSize: 16,
            evalFraction: 0.25,
            shardRows: 6,
            imageConcurrency: 4,
            featureSpecUri: await adsSpecFile(),
          },
          concurrency: CONCURRENCY,
        },
      ],
    });

  it('ingests every shard with at most `concurrency` in flight and accounts for every row', async () => {
    const { result, progress } = await run('fanout-first');
    assert.equal(result.shardCount, 7);
    assert.equal(result.rowsRead, 40);
    assert.equal(result.quarantinedRows, 3);
    assert.equal(result.rowsRead, result.trainRows + result.evalRows + result.quarantinedRows);
    const kept = await Promise.all([...result.trainUris, ...result.evalUris].map(readShard));
    assert.equal(
      kept.reduce((sum, shard) => sum + shard.examples.length, 0),
      result.trainRows + result.evalRows,
    );
    assert.ok(maxInFlight <= CONCURRENCY, `at most ${CONCURRENCY} shards at once, saw ${maxInFlight}`);
    assert.ok(maxInFlight >= 2, `shards ran in parallel (saw ${maxInFlight} at once)`);
    assert.deepEqual(
      [...shardsStarted].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6],
      'each shard runs once',
    );
    // The workflow schedules them in plan order (workers may pick them up in any order).
    const history = await env.client.workflow.getHandle('fanout-first').fetchHistory();
    const scheduled = (history.events ?? []).flatMap((event) => {
      const attributes = event.activityTaskScheduledEventAttributes;
      if (attributes?.activityType?.name !== 'ingestShard') return [];
      const payload = attributes.input?.payloads?.[0]?.data;
      return [(JSON.parse(Buffer.from(payload!).toString('utf8')) as IngestShardInput).shardIndex];
    });
    assert.deepEqual(scheduled, [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(
      progress.map((report) => report.shardsDone),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(result.reusedShards, 0);
  });

  it('reuses every shard in a second workflow on the same data', async () => {
    const { result } = await run('fanout-second');
    assert.equal(result.reusedShards, 7);
    assert.equal(result.rowsRead, 40);
  });

  it('replays its history deterministically', async () => {
    const history = await env.client.workflow.getHandle('fanout-first').fetchHistory();
    await Worker.runReplayHistory({ workflowBundle }, history, 'fanout-first');
  });
});
