/** The control worker: runs workflows and light activities on the `ml-control` task queue. */
import { Runtime, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createControlActivities, type ActivityDeps } from '../activities';
import { DEFAULT_SERVICE_NAMES, startTracingFromEnv, type Tracing } from './tracing';
import { workerDeploymentFromEnv, workerVersioningOptions, type WorkerDeployment } from './versioning';
import { runWorkerMain } from './run-worker';

export interface ControlWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle saves the few seconds webpack takes; tests share one. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** How long a stopping worker lets running activities finish before cancelling them (SDK default: 0). */
  shutdownGraceSeconds?: number;
  /**
   * OpenTelemetry tracing (lib/tracing.ts); unset: none, and the bundle is the default one. A prebuilt
   * `workflowBundle` must then have been bundled with `workflowInterceptorModules: [TRACING_WORKFLOW_MODULE]`.
   */
  tracing?: Tracing | undefined;
  /** This release's Worker Deployment Version; workflows then stay on the build they started on. Unset: unversioned. */
  deployment?: WorkerDeployment;
}

/** Creates (does not run) a control worker. */
export async function createControlWorker(options: ControlWorkerOptions): Promise<Worker> {
  if (options.tracing) Runtime.instance().logger.info(options.tracing.describe());
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createControlActivities(options.deps),
    ...(options.shutdownGraceSeconds ? { shutdownGraceTime: options.shutdownGraceSeconds * 1000 } : {}),
    ...workerVersioningOptions(options.deployment),
    ...options.tracing?.workerOptions(),
  });
}

if (require.main === module) {
  runWorkerMain((connection, env, onStop) => {
    const tracing = startTracingFromEnv(env, DEFAULT_SERVICE_NAMES.controlWorker, {
      warn: (message) => {
        Runtime.instance().logger.warn(message);
      },
    });
    if (tracing) onStop(() => tracing.shutdown());
    return createControlWorker({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.MLOPS_CONTROL_QUEUE,
      deps: {
        storeUri: env.MLOPS_STORE,
        servingUrls: env.MLOPS_SERVING_URLS,
        adminToken: env.MLOPS_ADMIN_TOKEN,
        ...(env.MLOPS_PROMETHEUS_URL ? { prometheusUrl: env.MLOPS_PROMETHEUS_URL } : {}),
      },
      shutdownGraceSeconds: env.MLOPS_SHUTDOWN_GRACE_SECONDS,
      deployment: workerDeploymentFromEnv(env),
      tracing,
    });
  });
}
