/**
 * Crash-proof training, for real: the GPU worker runs as its own process (as in production),
 * is SIGKILLed in the middle of an epoch after a checkpoint, and a new worker process takes over.
 * The pipeline completes, the retry resumes from the checkpoint, and at most one epoch is trained twice.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import type { TrainAttemptLog, TrainHeartbeat, TrainResult } from '../../activities/train/train';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import { startPipeline } from '../../scripts/clients/pipeline-client';
import { startEntryPoint, tailLog, type ManagedProcess } from '../../lib/stack/child-process';
import type { WorkerEnv } from '../../workers/env';
import { createPredictionServer } from '../../serving/server';
import { createControlWorker } from '../../workers/control-worker';
import type { PipelineResult } from '../../contracts/temporal';
import { startTestDevServer } from '../helpers/dev-server';
import { TEST_ADMIN_TOKEN, TEST_CONTROL_QUEUE, TEST_GPU_QUEUE, TEST_MODEL } from '../helpers/pipeline-env';
import { makeTinyDataset } from '../helpers/tiny-dataset';

const EPOCHS = 7;
/** ~3.5 s an epoch (720 train rows at 32 px) on the pure-JS CPU backend of a two-core machine: ~25 s of training. */
const CONFIG: PipelineConfigInput = {
  taskQueues: { gpu: TEST_GPU_QUEUE },
  data: { imageSize: 32, minRows: 10 },
  train: {
    epochs: EPOCHS,
    batchSize: 16,
    conv: { filters: [8, 16], denseUnits: 16 },
    heartbeatTimeoutSeconds: 5,
  },
  evaluate: { minAuc: 0, maxAucDropVsProduction: 1 },
  rollout: { steps: [{ weight: 100, bakeSeconds: 0, minRequests: 0 }] },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(message),
};

/** The trainModel activity's latest heartbeat, as `mlops pipeline start --follow` reads it. */
async function trainingProgress(client: Client, handle: WorkflowHandle): Promise<TrainHeartbeat | undefined> {
  const description = await handle.describe();
  if (description.status.name !== 'RUNNING') {
    throw new Error(`pipeline ended (${description.status.name}) before the worker could be killed`);
  }
  const training = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'trainModel');
  const payload = training?.heartbeatDetails?.payloads?.[0];
  return payload
    ? client.options.loadedDataConverter.payloadConverter.fromPayload<TrainHeartbeat>(payload)
    : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

void describe('a GPU worker killed in the middle of training', { timeout: 300_000 }, () => {
  void it('is replaced by a new worker that resumes from the checkpoint; the pipeline completes', async (t) => {
    const storeUri = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-crash-store-'));
    const logDir = path.join(storeUri, 'logs');
    await using dataset = await makeTinyDataset({ rows: 900, seed: 4 });
    await using devServer = await startTestDevServer();
    const serving = createPredictionServer({
      storeUri,
      models: [TEST_MODEL],
      adminToken: TEST_ADMIN_TOKEN,
      port: 0,
      host: '127.0.0.1',
      pollIntervalMs: 500,
    });
    const { url: servingUrl } = await serving.start();
    const connection = await Connection.connect({ address: devServer.address });
    const client = new Client({ connection, namespace: devServer.namespace });
    const workerConnection = await NativeConnection.connect({ address: devServer.address });
    const control = await createControlWorker({
      connection: workerConnection,
      namespace: devServer.namespace,
      taskQueue: TEST_CONTROL_QUEUE,
      deps: { storeUri, servingUrls: [servingUrl], adminToken: TEST_ADMIN_TOKEN },
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: require.resolve('../../workflows'),
        logger: quietLogger,
      }),
    });
    const controlRunning = control.run();

    // The GPU worker's real entry point and environment, as `mlops dev` or a Kubernetes pod starts it.
    const gpuEnv = {
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_NAMESPACE: devServer.namespace,
      MLOPS_STORE: storeUri,
      MLOPS_GPU_QUEUE: TEST_GPU_QUEUE,
      MLOPS_GPU_CONCURRENCY: '1',
    } satisfies Partial<Record<keyof WorkerEnv, string>>;
    const gpuWorkers: ManagedProcess[] = [];
    const startGpuWorker = async (name: string) => {
      const worker = await startEntryPoint({
        name,
        entry: 'workers/gpu-worker.ts',
        env: { ...gpuEnv, MLOPS_TF_BACKEND: 'cpu' },
        logDir,
      });
      gpuWorkers.push(worker);
      return worker;
    };

    try {
      const first = await startGpuWorker('gpu-worker-1');
      const handle = await startPipeline(client, {
        modelName: TEST_MODEL,
        dataUri: dataset.dir,
        featureSpecUri: await adsSpecFile(),
        config: CONFIG,
        approvalRequired: false,
        taskQueue: TEST_CONTROL_QUEUE,
        workflowId: `crash-${Date.now()}`,
      });

      // Wait until an epoch is checkpointed and the next one is under way, early enough in it that
      // the kill (heartbeats are up to ~2 s old) still lands mid-epoch.
      let progress: TrainHeartbeat | undefined;
      for (;;) {
        progress = await trainingProgress(client, handle);
        if (
          progress?.checkpoint &&
          progress.epoch === progress.checkpoint.epoch + 1 &&
          progress.batch > 0 &&
          progress.batch < progress.batchesPerEpoch / 2
        ) {
          break;
        }
        if (first.child.exitCode !== null) assert.fail(`GPU worker exited:\n${await tailLog(first.logFile)}`);
        await sleep(200);
      }
      const trainingPid = progress.pid!;
      assert.ok(isRunning(trainingPid), 'the training process runs beside the worker');
      assert.notEqual(trainingPid, first.child.pid, 'training runs in its own process');

      first.child.kill('SIGKILL');
      await first.stop();
      // The orphaned training process notices its parent is gone and stops by itself.
      for (let i = 0; i < 100 && isRunning(trainingPid); i++) await sleep(100);
      assert.ok(!isRunning(trainingPid), 'the training process outlived its killed worker');

      await startGpuWorker('gpu-worker-2');
      const result = (await handle.result()) as PipelineResult;
      assert.equal(result.outcome, 'production');

      const { runId } = await handle.describe();
      const trainDir = path.join(storeUri, 'runs', handle.workflowId, runId, 'train');
      const trained = JSON.parse(
        await fs.readFile(path.join(trainDir, 'result.json'), 'utf8'),
      ) as TrainResult;
      const attempts = await Promise.all(
        (await fs.readdir(path.join(trainDir, 'attempts'))).map(
          async (file) =>
            JSON.parse(await fs.readFile(path.join(trainDir, 'attempts', file), 'utf8')) as TrainAttemptLog,
        ),
      );
      attempts.sort((a, b) => a.attempt - b.attempt);
      const [killed, ...retries] = attempts;

      // The killed attempt: checkpointed up to k, was inside epoch k + 1, and never recorded an end.
      assert.equal(killed!.outcome, undefined, 'the killed attempt could not record an outcome');
      const k = killed!.checkpoints.at(-1)!;
      assert.ok(k >= 1 && k < EPOCHS);
      assert.deepEqual(killed!.epochsStarted.at(-1), k + 1, 'killed in the epoch after its last checkpoint');

      // The retry that finished resumed from k, on another worker process, and trained the rest.
      assert.equal(trained.attempt, retries.at(-1)!.attempt);
      assert.equal(trained.resumedFromEpoch, k);
      assert.equal(trained.epochsTrainedThisAttempt, EPOCHS - k);
      assert.equal(trained.epochs, EPOCHS);

      const starts = new Map<number, number>();
      for (const attempt of attempts) {
        for (const epoch of attempt.epochsStarted) starts.set(epoch, (starts.get(epoch) ?? 0) + 1);
      }
      const repeated = [...starts].filter(([, count]) => count > 1).map(([epoch]) => epoch);
      t.diagnostic(
        `killed at epoch ${progress.epoch} batch ${progress.batch}/${progress.batchesPerEpoch} (checkpoint ${k}); ` +
          `attempts ${attempts.map((a) => `${a.attempt}: epochs [${a.epochsStarted.join(',')}]`).join('; ')}; ` +
          `trained twice: [${repeated.join(',')}]`,
      );
      assert.ok(repeated.length <= 1, `epochs trained more than once: ${repeated.join(', ')}`);
      assert.deepEqual(
        [...starts.keys()].sort((a, b) => a - b),
        Array.from({ length: EPOCHS }, (_, i) => i + 1),
      );
    } catch (err) {
      for (const worker of gpuWorkers)
        console.error(`--- ${worker.name}\n${await tailLog(worker.logFile, 40)}`);
      throw err;
    } finally {
      await Promise.allSettled(gpuWorkers.map((worker) => worker.stop()));
      control.shutdown();
      await controlRunning.catch(() => undefined);
      await workerConnection.close();
      await connection.close();
      await serving.stop();
      await fs.rm(storeUri, { recursive: true, force: true });
    }
  });
});
