/**
 * The whole local stack of `mlops dev` and `mlops demo`: the Temporal dev server, the control
 * and GPU workers and the prediction server, each its own process, logs under .mlops/logs.
 */
import net from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startDevServer, type DevServerHandle } from '../temporal-server';
import { CONTROL_TASK_QUEUE, GPU_TASK_QUEUE } from '../../contracts/temporal';
import { startEntryPoint, tailLog, type ManagedProcess } from './child-process';

export interface LocalStackOptions {
  /** The project's state folder, `.mlops` by default. */
  stateDir: string;
  temporalPort: number;
  uiPort: number;
  servingPort: number;
  adminToken: string;
  /** Models the prediction server serves; absent: every model deployed in the store. */
  models?: string[];
  /** The artifact store; default `<stateDir>/store`. May be gs://bucket/prefix. */
  storeUri?: string;
  log?: (line: string) => void;
}

export interface LocalStack {
  temporalAddress: string;
  uiUrl: string;
  servingUrl: string;
  storeUri: string;
  namespace: string;
  logDir: string;
  client: Client;
  stop(): Promise<void>;
}

async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', () =>
      reject(
        new Error(
          `port ${port} (${what}) is in use: is another 'mlops dev' running? Stop it or choose another port.`,
        ),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  process: ManagedProcess,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.child.exitCode !== null) {
      throw new Error(
        `${process.name} exited with code ${process.child.exitCode}:\n${await tailLog(process.logFile)}`,
      );
    }
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `${what} did not become ready in ${timeoutMs / 1000}s; see ${process.logFile}:\n${await tailLog(process.logFile)}`,
  );
}

async function hasPollers(
  client: Client,
  taskQueue: string,
  type: temporal.api.enums.v1.TaskQueueType,
): Promise<boolean> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: type,
  });
  return (response.pollers?.length ?? 0) > 0;
}

interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Stops what was started, last first, ignoring failures so one stuck part cannot keep the rest
 * running. Only the first call stops anything; later ones wait for it, so stopping twice (a
 * signal handler and a finally block, say) is safe.
 */
export function createStopAll(started: readonly Stoppable[]): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      for (const item of [...started].reverse()) await item.stop().catch(() => undefined);
    })());
}

/** Starts the dev server, both workers and the prediction server, and waits until each is ready. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const stateDir = path.resolve(options.stateDir);
  const logDir = path.join(stateDir, 'logs');
  const storeUri = options.storeUri ?? path.join(stateDir, 'store');
  // startDevServer checks its own ports; the prediction server's is ours to check.
  await assertPortFree(options.servingPort, 'prediction server');

  const started: Stoppable[] = [];
  const stopAll = createStopAll(started);
  try {
    log(`starting Temporal dev server on :${options.temporalPort} (Web UI :${options.uiPort})`);
    const devServer: DevServerHandle = await startDevServer({
      dbFile: path.join(stateDir, 'temporal.sqlite'),
      port: options.temporalPort,
      uiPort: options.uiPort,
      logFile: path.join(logDir, 'temporal.log'),
    });
    started.push(devServer);
    const servingUrl = `http://127.0.0.1:${options.servingPort}`;
    const env = {
      TEMPORAL_ADDRESS: devServer.address,
      TEMPORAL_NAMESPACE: devServer.namespace,
      MLOPS_STORE: storeUri,
      MLOPS_SERVING_URLS: servingUrl,
      MLOPS_ADMIN_TOKEN: options.adminToken,
      ...(options.models ? { MLOPS_MODELS: options.models.join(',') } : {}),
      // Pinned, since the stack waits for pollers and the demo starts pipelines on these queues
      // whatever the caller's shell exports.
      MLOPS_CONTROL_QUEUE: CONTROL_TASK_QUEUE,
      MLOPS_GPU_QUEUE: GPU_TASK_QUEUE,
      PORT: String(options.servingPort),
      HOST: '127.0.0.1',
    };
    // Each worker process exports its own metrics: the GPU worker takes the next port.
    const metricsPort = process.env.MLOPS_WORKER_METRICS_PORT;
    const gpuWorkerEnv = metricsPort
      ? { ...env, MLOPS_WORKER_METRICS_PORT: String(Number(metricsPort) + 1) }
      : env;
    const connection = await Connection.connect({ address: devServer.address });
    started.push({ stop: () => connection.close() });
    const client = new Client({ connection, namespace: devServer.namespace });

    log('starting prediction server, control worker and GPU worker');
    // allSettled, so the processes that did start are stopped when another fails to.
    const processes = await Promise.allSettled([
      startEntryPoint({ name: 'prediction-server', entry: 'serving/main.ts', env, logDir }),
      startEntryPoint({ name: 'control-worker', entry: 'workers/control-worker.ts', env, logDir }),
      startEntryPoint({ name: 'gpu-worker', entry: 'workers/gpu-worker.ts', env: gpuWorkerEnv, logDir }),
    ]);
    for (const result of processes) if (result.status === 'fulfilled') started.push(result.value);
    const [serving, controlWorker, gpuWorker] = processes.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    }) as [ManagedProcess, ManagedProcess, ManagedProcess];
    const { TASK_QUEUE_TYPE_WORKFLOW: WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY: ACTIVITY } =
      temporal.api.enums.v1.TaskQueueType;
    await Promise.all([
      waitFor('prediction server', async () => (await fetch(`${servingUrl}/healthz`)).ok, serving),
      waitFor('control worker', () => hasPollers(client, CONTROL_TASK_QUEUE, WORKFLOW), controlWorker),
      waitFor('GPU worker', () => hasPollers(client, GPU_TASK_QUEUE, ACTIVITY), gpuWorker),
    ]);
    return {
      temporalAddress: devServer.address,
      uiUrl: devServer.uiUrl ?? `http://localhost:${options.uiPort}`,
      servingUrl,
      storeUri,
      namespace: devServer.namespace,
      logDir,
      client,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
