/** The GPU worker: trains and evaluates on the `ml-gpu` task queue, one training per GPU by default. */
import { Runtime, Worker, type NativeConnection } from '@temporalio/worker';
import { createGpuActivities } from '../activities';
import { loadTfBackend } from '../lib/model';
import { DEFAULT_SERVICE_NAMES, startTracingFromEnv, type Tracing } from './tracing';
import { workerDeploymentFromEnv, workerVersioningOptions, type WorkerDeployment } from './versioning';
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
  /**
   * This release's Worker Deployment Version, the same as the control worker's: activities of a pinned
   * pipeline then run on its own release's GPU workers. Unset: unversioned.
   */
  deployment?: WorkerDeployment;
  /** OpenTelemetry tracing (lib/tracing.ts): a RunActivity span per training or evaluation; unset: none. */
  tracing?: Tracing | undefined;
}

/** Loads the best TensorFlow backend available, logs it, and creates (does not run) the worker. */
export async function createGpuWorker(options: GpuWorkerOptions): Promise<Worker> {
  const { backend, device, info, skipped } = await loadTfBackend();
  const logger = Runtime.instance().logger;
  logger.info(`GPU worker trains on backend ${backend}, device ${device}`, { ...info });
  // Why a faster backend (or the GPU) was passed over: the first thing to read on a GPU node that is slow.
  for (const reason of skipped) logger.warn(`backend skipped: ${reason}`);
  if (options.tracing) logger.info(options.tracing.describe());
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
    ...workerVersioningOptions(options.deployment),
    // Activities only: this worker runs no workflows, so no workflow interceptors or span sink.
    ...options.tracing?.workerOptions({ workflows: false }),
  });
}

if (require.main === module) {
  runWorkerMain((connection, env, onStop) => {
    const tracing = startTracingFromEnv(env, DEFAULT_SERVICE_NAMES.gpuWorker, {
      warn: (message) => {
        Runtime.instance().logger.warn(message);
      },
    });
    if (tracing) onStop(() => tracing.shutdown());
    return createGpuWorker({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.MLOPS_GPU_QUEUE,
      storeUri: env.MLOPS_STORE,
      concurrency: env.MLOPS_GPU_CONCURRENCY,
      shutdownGraceSeconds: env.MLOPS_SHUTDOWN_GRACE_SECONDS,
      deployment: workerDeploymentFromEnv(env),
      tracing,
    });
  });
}
