/**
 * A whole pipeline environment for integration tests: a real Temporal dev server, both workers
 * in this process, a real prediction server on a free port, and a temporary store.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker } from '@temporalio/worker';
import { createControlWorker } from '../../workers/control-worker';
import { createGpuWorker } from '../../workers/gpu-worker';
import { createPredictionServer } from '../../serving/server';
import type { DevServerHandle } from '../../lib/temporal-server';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import { startTestDevServer } from './dev-server';
import { quietLogger } from './quiet-logger';

export const TEST_CONTROL_QUEUE = 'test-ml-control';
export const TEST_GPU_QUEUE = 'test-ml-gpu';
export const TEST_ADMIN_TOKEN = 'test-admin-token';
export const TEST_MODEL = 'ctr';

/** Canary thresholds that never fail on latency or score shift, the two judgements timing noise can sway. */
export const NOISE_FREE_CANARY_THRESHOLDS = { maxP99LatencyRatio: 1e9, maxScoreDivergence: 1 } as const;

/**
 * A pipeline that runs in seconds on the tiny test datasets: one small epoch, blessing off (any
 * candidate passes), and a canary of one 50% step that needs only a few requests.
 */
export const TINY_PIPELINE_CONFIG: PipelineConfigInput = {
  taskQueues: { gpu: TEST_GPU_QUEUE },
  data: { imageSize: 16, minRows: 10 },
  train: { epochs: 1, batchSize: 16, conv: { filters: [4], denseUnits: 8 } },
  evaluate: {
    minAuc: 0,
    maxAucDropVsProduction: 1,
    maxLogLossIncreaseVsProduction: 100,
    maxEceIncreaseVsProduction: 1,
  },
  rollout: {
    steps: [
      { weight: 50, bakeSeconds: 1, minRequests: 5 },
      { weight: 100, bakeSeconds: 0, minRequests: 0 },
    ],
    maxWaitSeconds: 60,
    // The shadow step is judged where a test means to (test/e2e/shadow.test.ts); elsewhere it would
    // wait for mirrored traffic most tests do not send.
    shadow: false,
    // Latency and score shift are judged only where a test means to: on a busy 2-core machine
    // one window's p99 of two equally fast models can differ by half (seen: 70.5 vs 45.6 ms),
    // and tiny models' score samples diverge by chance. Error rate and log loss stay on.
    thresholds: NOISE_FREE_CANARY_THRESHOLDS,
  },
};

export interface PipelineEnv {
  devServer: DevServerHandle;
  client: Client;
  storeUri: string;
  servingUrl: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface PipelineEnvOptions {
  /**
   * The store every worker and the prediction server use (a gs:// URI, say); the caller owns it
   * and close() leaves it alone. By default a fresh temporary folder, removed on close().
   */
  storeUri?: string;
  /** Where the prediction server may read `image_uri` images from; by default nowhere. */
  imageUriRoots?: string[];
  /** Models the prediction server serves (default: every model deployed, as `mlops dev` serves them). */
  models?: string[];
}

export async function startPipelineEnv(options: PipelineEnvOptions = {}): Promise<PipelineEnv> {
  const ownsStore = options.storeUri === undefined;
  const storeUri = options.storeUri ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-store-')));
  const devServer = await startTestDevServer();
  const serving = createPredictionServer({
    storeUri,
    ...(options.models ? { models: options.models } : {}),
    adminToken: TEST_ADMIN_TOKEN,
    port: 0,
    host: '127.0.0.1',
    pollIntervalMs: 500,
    // The rollback tests and bench inject errors into the canary.
    faultInjection: true,
    ...(options.imageUriRoots ? { imageUriRoots: options.imageUriRoots } : {}),
  });
  const { url: servingUrl } = await serving.start();
  const connection = await Connection.connect({ address: devServer.address });
  const client = new Client({ connection, namespace: devServer.namespace });
  const workerConnection = await NativeConnection.connect({ address: devServer.address });
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: quietLogger,
  });
  const workers: Worker[] = [
    await createControlWorker({
      connection: workerConnection,
      namespace: devServer.namespace,
      taskQueue: TEST_CONTROL_QUEUE,
      deps: { storeUri, servingUrls: [servingUrl], adminToken: TEST_ADMIN_TOKEN },
      workflowBundle,
    }),
    await createGpuWorker({
      connection: workerConnection,
      namespace: devServer.namespace,
      taskQueue: TEST_GPU_QUEUE,
      storeUri,
      concurrency: 1,
    }),
  ];
  const running = workers.map((worker) => worker.run());

  const close = async () => {
    for (const worker of workers) worker.shutdown();
    await Promise.allSettled(running);
    await workerConnection.close();
    await connection.close();
    await serving.stop();
    await devServer.stop();
    if (ownsStore) await fs.rm(storeUri, { recursive: true, force: true });
  };
  return { devServer, client, storeUri, servingUrl, close, [Symbol.asyncDispose]: close };
}
