/**
 * A 72-hour approval timeout, on the time-skipping test server: the real pipeline with real
 * workers and activities on a tiny dataset, where the three days of waiting pass in seconds.
 */
import { adsSpecFile } from '../../helpers/ads-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleWorkflowCode, type Worker } from '@temporalio/worker';
import type { PipelineConfigInput } from '../../../contracts/pipeline-config';
import { startPipeline } from '../../../scripts/clients/pipeline-client';
import { ModelRegistry } from '../../../lib/registry/index';
import type { PipelineResult } from '../../../contracts/temporal';
import { createControlWorker } from '../../../workers/control-worker';
import { createGpuWorker } from '../../../workers/gpu-worker';
import { createTimeSkippingEnv, type TimeSkippingEnv } from '../../helpers/time-skipping';
import { makeTinyDataset } from '../../helpers/tiny-dataset';
import { silentLogger } from '../../helpers/quiet-logger';

const CONTROL_QUEUE = 'timeout-control';
const GPU_QUEUE = 'timeout-gpu';

const config = (timeoutOutcome: 'reject' | 'approve'): PipelineConfigInput => ({
  taskQueues: { gpu: GPU_QUEUE },
  data: { imageSize: 16, minRows: 10 },
  train: { epochs: 1, batchSize: 16, conv: { filters: [4], denseUnits: 8 } },
  evaluate: {
    minAuc: 0,
    maxAucDropVsProduction: 1,
    maxLogLossIncreaseVsProduction: 100,
    maxEceIncreaseVsProduction: 1,
  },
  approval: { timeoutHours: 72, timeoutOutcome },
});

describe('approval timeout on the time-skipping server', { timeout: 300_000 }, () => {
  let env: TimeSkippingEnv;
  let dataset: Awaited<ReturnType<typeof makeTinyDataset>>;
  let storeUri: string;
  let workers: Worker[];
  let running: Array<Promise<void>>;

  before(async () => {
    [env, dataset, storeUri] = await Promise.all([
      createTimeSkippingEnv(),
      makeTinyDataset({ rows: 60 }),
      fs.mkdtemp(path.join(os.tmpdir(), 'mlops-timeout-store-')),
    ]);
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../../workflows'),
      logger: silentLogger,
    });
    // No prediction server: a rejected candidate never deploys, and the first version of a model
    // "deploys" to zero replicas.
    workers = [
      await createControlWorker({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue: CONTROL_QUEUE,
        deps: { storeUri, servingUrls: [], adminToken: 'unused' },
        workflowBundle,
      }),
      await createGpuWorker({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue: GPU_QUEUE,
        storeUri,
        concurrency: 1,
      }),
    ];
    running = workers.map((worker) => worker.run());
  });
  after(async () => {
    for (const worker of workers ?? []) worker.shutdown();
    await Promise.allSettled(running ?? []);
    await env?.teardown();
    await dataset?.close();
    if (storeUri) await fs.rm(storeUri, { recursive: true, force: true });
  });

  const run = async (id: string, outcome: 'reject' | 'approve') => {
    const started = Date.now();
    const handle = await startPipeline(env.client, {
      modelName: 'ctr',
      dataUri: dataset.dir,
      featureSpecUri: await adsSpecFile(),
      config: config(outcome),
      taskQueue: CONTROL_QUEUE,
      workflowId: id,
    });
    const result = (await handle.result()) as PipelineResult;
    const history = await handle.fetchHistory();
    const timers = (history.events ?? []).filter((event) => event.timerStartedEventAttributes).length;
    console.log(
      `${id}: 72 h approval window in ${((Date.now() - started) / 1000).toFixed(1)} s of wall time, ${timers} timers`,
    );
    return result;
  };

  it('rejects a candidate nobody decided on within 72 hours (the default outcome)', async () => {
    const result = await run('timeout-reject', 'reject');
    assert.equal(result.outcome, 'rejected');
    assert.equal(result.decision?.kind, 'rejected');
    assert.equal(result.decision?.timedOut, true);
    assert.match(result.decision?.note ?? '', /no decision within 72h \(approval.timeoutOutcome=reject\)/);
    const record = await new ModelRegistry(storeUri).getVersion('ctr', result.version);
    assert.equal(record?.status, 'rejected');
    assert.deepEqual(
      record?.approvals.map((a) => [a.decision, a.by, a.gate]),
      [['timed-out', 'approval timeout', 'candidate']],
    );
  });

  it('approves at the deadline when approval.timeoutOutcome is approve', async () => {
    const result = await run('timeout-approve', 'approve');
    assert.equal(result.outcome, 'production');
    assert.equal(result.decision?.kind, 'approved');
    assert.equal(result.decision?.timedOut, true);
    const registry = new ModelRegistry(storeUri);
    assert.equal((await registry.getAliases('ctr')).production, result.version);
    assert.deepEqual(
      (await registry.getVersion('ctr', result.version))?.approvals.map((a) => [a.decision, a.by]),
      [['approved', 'approval timeout']],
    );
  });
});
