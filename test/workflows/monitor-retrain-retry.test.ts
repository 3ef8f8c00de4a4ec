/**
 * How often the monitor retrains, on the time-skipping test server: a retraining that fails (here its
 * data is missing, so the real pipeline fails at ingest) is started again only after
 * retrainRetryAfterSeconds, however often drift is measured in between. The measurement activity is
 * scripted to report drift every hour; the monitor workflow, the pipeline and its activities are real.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { createControlActivities } from '../../activities';
import { buildMonitorInput } from '../../scripts/clients/monitor-client';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import {
  monitorStatusQuery,
  retrainWorkflowId,
  stopMonitorSignal,
  type MeasureHealthInput,
  type MonitorMeasurement,
} from '../../contracts/monitor';
import { createTimeSkippingEnv, type TimeSkippingEnv } from '../helpers/time-skipping';
import { silentLogger } from '../helpers/quiet-logger';

const QUEUE = 'monitor-retry-control';
const MODEL = 'ctr';

/** Drift on every measurement, as a model whose live inputs stay moved would show. */
function measureModelHealth(input: MeasureHealthInput): Promise<MonitorMeasurement> {
  return Promise.resolve({
    at: new Date().toISOString(),
    modelName: input.modelName,
    iteration: input.iteration,
    productionVersion: '1',
    predictionsCursor: input.predictionsCursor,
    feedbackCursor: input.feedbackCursor,
    predictions: 500,
    labels: 0,
    triggers: [{ kind: 'drift', message: 'hour: major drift (PSI 1.9 > 0.25)' }],
    notes: [],
  });
}

describe('monitor retraining retries on the time-skipping server', { timeout: 180_000 }, () => {
  let env: TimeSkippingEnv;
  let storeUri: string;
  let worker: Worker;
  let running: Promise<void>;

  before(async () => {
    [env, storeUri] = await Promise.all([
      createTimeSkippingEnv(),
      fs.mkdtemp(path.join(os.tmpdir(), 'mlops-monitor-retry-')),
    ]);
    worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue: QUEUE,
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: require.resolve('../../workflows'),
        logger: silentLogger,
      }),
      activities: {
        ...createControlActivities({ storeUri, servingUrls: [], adminToken: 'unused' }),
        measureModelHealth,
      },
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await env?.teardown();
    if (storeUri) await fs.rm(storeUri, { recursive: true, force: true });
  });

  it('starts a failed retraining again after the retry delay, not on every trigger', async () => {
    const missingData = path.join(storeUri, 'no-such-data');
    const pipelineConfig: PipelineConfigInput = { data: { minRows: 10 } };
    const input = buildMonitorInput({
      modelName: MODEL,
      config: { intervalSeconds: 3600, action: 'retrain', retrainRetryAfterHours: 6 },
      dataUri: missingData,
      pipelineConfig,
      // Never reached: the pipeline fails at ingest, on this worker's queue (the monitor's).
      gpuTaskQueue: QUEUE,
    });
    const monitor = await env.client.workflow.start('modelMonitor', {
      taskQueue: QUEUE,
      workflowId: 'monitor-retry',
      args: [input],
    });
    const startedAt = Date.parse((await monitor.describe()).startTime.toISOString());

    // 13 hours of hourly measurements, each one reporting drift.
    await env.sleep('13 hours');
    const status = await monitor.query(monitorStatusQuery);
    assert.ok(status.iterations >= 13, `${status.iterations} iterations`);
    const id = retrainWorkflowId(MODEL, '1');
    const starts = status.actions.filter((action) => action.kind === 'retrain-started');
    const hoursIn = starts.map((action) => Math.round((Date.parse(action.at) - startedAt) / 3600_000));
    // At once, then at the first trigger 6 h after each start.
    assert.deepEqual(hoursIn, [0, 6, 12]);
    assert.ok(starts.every((action) => action.workflowId === id));
    // The triggers in between are not news: the action list holds the starts only.
    assert.deepEqual(
      status.actions.map((action) => action.kind),
      ['retrain-started', 'retrain-started', 'retrain-started'],
    );

    // Each start was a real pipeline run that failed: its data is missing.
    const child = env.client.workflow.getHandle(id);
    const failure = await child.result().then(
      () => assert.fail('the retraining on missing data succeeded'),
      (err: Error) => err,
    );
    const causes: string[] = [];
    for (let cause: unknown = failure; cause instanceof Error; cause = cause.cause)
      causes.push(cause.message);
    assert.match(causes.join(' <- '), /no-such-data/);
    assert.equal((await child.describe()).status.name, 'FAILED');

    await monitor.signal(stopMonitorSignal, { by: 'test' });
    await monitor.result();
  });
});
