/** The control worker: runs workflows and light activities on the `ml-control` task queue. */
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createControlActivities, type ActivityDeps } from '../activities';
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
}

/** Creates (does not run) a control worker. */
export async function createControlWorker(options: ControlWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createControlActivities(options.deps),
    ...(options.shutdownGraceSeconds ? { shutdownGraceTime: options.shutdownGraceSeconds * 1000 } : {}),
  });
}

if (require.main === module) {
  runWorkerMain((connection, env) =>
    createControlWorker({
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
    }),
  );
}
