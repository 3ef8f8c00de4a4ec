/** Recording scenarios of the operations workflows: batch prediction and the production monitor. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { queryBatchPredictStatus, startBatchPredict } from '../../clients/batch-client';
import { startMonitor } from '../../clients/monitor-client';
import { waitForStage } from '../../clients/pipeline-client';
import { loadTrafficSamples } from '../../../lib/traffic/samples';
import { approveSignal, type PipelineResult } from '../../../contracts/temporal';
import type { BatchPredictResult } from '../../../contracts/batch-predict';
import {
  monitorStatusQuery,
  retrainWorkflowId,
  stopMonitorSignal,
  type MonitorMeasurement,
} from '../../../contracts/monitor';
import type { ModelStatusResponse } from '../../../serving/routes/model-status';
import { childWorkflows } from '../../../test/helpers/histories';
import {
  TEST_CONTROL_QUEUE,
  TEST_GPU_QUEUE,
  TEST_MODEL,
  type PipelineEnv,
} from '../../../test/helpers/pipeline-env';
import { makeTinyDataset } from '../../../test/helpers/tiny-dataset';
import { DEPLOY_AT_ONCE, STAGE_TIMEOUT, until, result, expectOutcome, type Scenario } from './scenario-kit';

/** Run after the pipeline scenarios, on the versions they left in production. */
export const OPERATIONS_SCENARIOS: Scenario[] = [
  {
    name: 'batch-predict',
    needs: 'production',
    async run({ env, dataUri }) {
      // `mlops batch-predict --model ctr --version production --shard-rows 20`: four shards, three at once.
      const handle = await startBatchPredict(env.client, {
        modelName: TEST_MODEL,
        version: 'production',
        dataUri,
        shardRows: 20,
        concurrency: 3,
        gpuTaskQueue: TEST_GPU_QUEUE,
        taskQueue: TEST_CONTROL_QUEUE,
        workflowId: 'history-batch-predict',
      });
      const done = (await handle.result()) as BatchPredictResult;
      const status = await queryBatchPredictStatus(env.client, handle.workflowId);
      if (done.shards.length < 2 || status.stage !== 'done' || status.shardsDone !== done.shards.length)
        throw new Error(
          `expected a finished job of several shards, got ${done.shards.length} shards and ${JSON.stringify(status)}`,
        );
      return handle;
    },
  },
  {
    name: 'monitor-retrains',
    needs: 'nothing',
    async run({ env, start }) {
      await using drifted = await makeTinyDataset({ rows: 220, seed: 7, drift: true });
      // A new production version nobody has called yet: the monitor measures only the drifted traffic below.
      const deployed = await result(await start(DEPLOY_AT_ONCE, 'deploy'));
      expectOutcome(deployed, 'production');
      const { version } = deployed as PipelineResult;
      await until(async () => {
        const response = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}`);
        const served = ((await response.json()) as ModelStatusResponse).model_version_status;
        return served.length === 1 && served[0]?.version === version ? true : undefined;
      }, `the prediction server to serve v${version} alone`);
      const samples = await loadTrafficSamples(drifted.dir, 200);
      let sent = 0;
      const sendDriftedTraffic = async () => {
        const predicted = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}:predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: samples.map((sample) => sample.instance) }),
        });
        if (!predicted.ok)
          throw new Error(`drifted traffic refused: ${predicted.status} ${await predicted.text()}`);
        sent += samples.length;
        // In the log (flushed every second) before going on, so the monitor finds it when expected.
        await until(
          async () => ((await loggedPredictions(env, version)) >= sent ? true : undefined),
          'the prediction log',
        );
      };
      await sendDriftedTraffic();

      // Measures every second, continues as new every 4 iterations, retrains on the drift it finds.
      const monitor = await startMonitor(env.client, {
        modelName: TEST_MODEL,
        config: {
          intervalSeconds: 1,
          action: 'retrain',
          thresholds: { minLabels: 50, maxLogLoss: 5 },
          drift: { minRows: 50 },
          maxIterationsPerRun: 4,
        },
        dataUri: drifted.dir,
        // The retraining waits for a reviewer, so the second trigger below finds it still running.
        pipelineConfig: { ...DEPLOY_AT_ONCE, approval: { required: true } },
        taskQueue: TEST_CONTROL_QUEUE,
      });
      // Its first run: the earliest it continues as new is after four measurements and timers.
      const { runId: firstRunId } = await monitor.describe();
      const retrainId = retrainWorkflowId(TEST_MODEL, version);
      const triggered = await until(async () => {
        const status = await monitor.query(monitorStatusQuery);
        const action = status.actions.find((a) => a.kind === 'retrain-started' && a.workflowId === retrainId);
        return action ? { action, iterations: status.iterations } : undefined;
      }, 'the monitor to start retraining');
      if (!triggered.action.triggers.some((trigger) => trigger.kind === 'drift'))
        throw new Error(`expected a drift trigger, got ${JSON.stringify(triggered.action.triggers)}`);

      // More drift while the retraining of this version runs: the monitor does not start another.
      await sendDriftedTraffic();
      const again = await until(async () => {
        const status = await monitor.query(monitorStatusQuery);
        return status.last && status.last.iteration >= triggered.iterations && status.last.triggers.length > 0
          ? status
          : undefined;
      }, 'the monitor to measure the second drifted batch');
      if (again.actions.length !== 1)
        throw new Error(`expected one action, got ${JSON.stringify(again.actions)}`);

      // The retraining validates the drifted data as an expected shift, is approved by signal,
      // deploys, then widens the schema.
      await waitForStage(env.client, retrainId, ['awaiting-approval'], STAGE_TIMEOUT);
      const retrain = env.client.workflow.getHandle(retrainId);
      await retrain.signal(approveSignal, { by: 'recorder' });
      expectOutcome(await result(retrain), 'production');

      // The run that started it has continued as new by now (four 1 s iterations per run) ...
      const retrainRun = await until(async () => {
        const runs = await runsOf(env, monitor.workflowId, firstRunId);
        const run = runs.find((r) => r.children.some((child) => child.workflowId === retrainId));
        return run?.continuedAs ? run : undefined;
      }, 'the retraining run of the monitor to continue as new');
      if (retrainRun.triggered < 2)
        throw new Error(
          'expected the run that started the retraining to be triggered again (the second batch landed in a later run); record again',
        );
      // ... and a later run is stopped by the `stop` signal, as `mlops monitor stop` sends it.
      await monitor.signal(stopMonitorSignal, { by: 'recorder' });
      await monitor.result();
      const runs = await runsOf(env, monitor.workflowId, firstRunId);
      const last = runs.at(-1)!;
      if (last.runId === retrainRun.runId) throw new Error('expected the monitor to stop in a later run');
      return [
        { workflowId: monitor.workflowId, runId: retrainRun.runId, suffix: '-continued-as-new' },
        { workflowId: monitor.workflowId, runId: last.runId, suffix: '-stopped' },
      ];
    },
  },
];

/** How many predictions of `version` the prediction server has logged to the (local) store. */
async function loggedPredictions(env: PipelineEnv, version: string): Promise<number> {
  const root = path.join(env.storeUri, 'logs', TEST_MODEL, 'predictions');
  const files = (await fs.readdir(root, { recursive: true })).filter((file) => file.endsWith('.jsonl'));
  let count = 0;
  for (const file of files) {
    const text = await fs.readFile(path.join(root, file), 'utf8');
    count += text.split('\n').filter((line) => line.includes(`"version":"${version}"`)).length;
  }
  return count;
}

/**
 * Every run of a monitor from its first, following continue-as-new: run id, children, successor,
 * and how many of its measurements found a trigger.
 */
async function runsOf(env: PipelineEnv, workflowId: string, firstRunId: string) {
  const runs: Array<{
    runId: string;
    children: ReturnType<typeof childWorkflows>;
    triggered: number;
    continuedAs?: string;
  }> = [];
  for (let runId: string | undefined = firstRunId; runId;) {
    const history: History = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const measurements = new Set(
      events
        .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'measureModelHealth')
        .map((e) => String(e.eventId)),
    );
    const triggered = events.filter((e) => {
      const completed = e.activityTaskCompletedEventAttributes;
      const payload = completed?.result?.payloads?.[0];
      if (!payload || !measurements.has(String(completed.scheduledEventId))) return false;
      return defaultPayloadConverter.fromPayload<MonitorMeasurement>(payload).triggers.length > 0;
    }).length;
    const continuedAs: string | undefined =
      events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    runs.push({
      runId,
      children: childWorkflows(history),
      triggered,
      ...(continuedAs ? { continuedAs } : {}),
    });
    runId = continuedAs;
  }
  return runs;
}
