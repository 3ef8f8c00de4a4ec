/** The GPU worker: trains and evaluates on the `ml-gpu` task queue, one training per GPU by default. */
import { Runtime, Worker, type NativeConnection } from '@temporalio/worker';
import { createGpuActivities } from '../activities';
import { loadTfBackend } from '../lib/model';
import { runWorkerMain } from './run-worker';

/** Longest the SDK holds back a heartbeat. */
const HEARTBEAT_THROTTLE = '2 seconds';

export interface GpuWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  storeUri: string;
  concurrency: number;
  /** How long a stopping worker lets running activities finish before cancelling them (SDK default: 0). */
  shutdownGraceSeconds?: number;
}

/** Loads the best TensorFlow backend available, logs it, and creates (does not run) the worker. */
export async function createGpuWorker(options: GpuWorkerOptions): Promise<Worker> {
  const { backend, device, info, skipped } = await loadTfBackend();
  const logger = Runtime.instance().logger;
  logger.info(`GPU worker trains on backend ${backend}, device ${device}`, { ...info });
  // Why a faster backend (or the GPU) was passed over: the first thing to read on a GPU node that is slow.
  for (const reason of skipped) logger.warn(`backend skipped: ${reason}`);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createGpuActivities({ storeUri: options.storeUri }),
    maxConcurrentActivityTaskExecutions: options.concurrency,
    // Training heartbeats every couple of seconds; send them on, so progress is fresh in describe()
    // and a cancellation (delivered in a heartbeat's response) reaches the training process promptly.
    // Without this the SDK sends at most one per 0.8 × heartbeat timeout.
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    // A draining worker (SIGTERM, a Kubernetes rollout) lets a training reach its next checkpoint.
    ...(options.shutdownGraceSeconds ? { shutdownGraceTime: options.shutdownGraceSeconds * 1000 } : {}),
  });
}

if (require.main === module) {
  runWorkerMain((connection, env) =>
    createGpuWorker({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.MLOPS_GPU_QUEUE,
      storeUri: env.MLOPS_STORE,
      concurrency: env.MLOPS_GPU_CONCURRENCY,
      shutdownGraceSeconds: env.MLOPS_SHUTDOWN_GRACE_SECONDS,
    }),
  );
}
