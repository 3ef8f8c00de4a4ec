/** The shared `main()` of worker entry points: validated environment, connection, run until a signal drains it. */
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import {
  describeTemporalConnection,
  InvalidEnvironmentError,
  readWorkerEnv,
  temporalConnectionOptions,
  type WorkerEnv,
} from './env';
import { installWorkerRuntime } from './telemetry';

/**
 * Connects, creates the worker with `create`, runs it, and closes the connection; exits 1 on failure.
 * What `create` hands to `onStop` (a tracer provider's flush) runs once the worker has stopped.
 */
export function runWorkerMain(
  create: (
    connection: NativeConnection,
    env: WorkerEnv,
    onStop: (cleanup: () => Promise<void>) => void,
  ) => Promise<Worker>,
): void {
  let jsonLogs = false;
  const cleanups: Array<() => Promise<void>> = [];
  const main = async () => {
    // Every bad variable and unreadable certificate in one error, before anything connects.
    const env = readWorkerEnv();
    // Logger and metrics endpoint are process-wide and must be in place before the first connection.
    installWorkerRuntime({
      logFormat: env.MLOPS_LOG_FORMAT,
      logLevel: env.MLOPS_LOG_LEVEL,
      metricsHost: env.MLOPS_WORKER_METRICS_HOST,
      ...(env.MLOPS_WORKER_METRICS_PORT !== undefined ? { metricsPort: env.MLOPS_WORKER_METRICS_PORT } : {}),
    });
    jsonLogs = env.MLOPS_LOG_FORMAT === 'json';
    if (env.MLOPS_WORKER_METRICS_PORT !== undefined) {
      Runtime.instance().logger.info(
        `worker metrics on http://${env.MLOPS_WORKER_METRICS_HOST}:${env.MLOPS_WORKER_METRICS_PORT}/metrics`,
      );
    }
    const target = describeTemporalConnection(env);
    Runtime.instance().logger.info(`connecting to Temporal at ${target}`);
    let connection: NativeConnection;
    try {
      connection = await NativeConnection.connect(temporalConnectionOptions(env));
    } catch (err) {
      throw new Error(
        `cannot connect to Temporal at ${target}: ${(err as Error).message}. ` +
          'Check TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the TLS / API key settings (README, "Configuration").',
        { cause: err },
      );
    }
    try {
      // Worker.run() stops polling on SIGINT/SIGTERM and lets in-flight tasks finish for the worker's
      // shutdownGraceTime before cancelling them.
      await (await create(connection, env, (cleanup) => cleanups.push(cleanup))).run();
    } finally {
      await connection.close();
      // Spans of the last tasks are still buffered: send them before the process exits.
      for (const cleanup of cleanups) {
        await cleanup().catch((err: Error) => {
          Runtime.instance().logger.warn(`cleanup after the worker stopped failed: ${err.message}`);
        });
      }
    }
  };
  main().catch((err) => {
    // A configuration problem is fully said by its message; anything else keeps its stack.
    if (jsonLogs) {
      // Log collectors parse every line: the last one too.
      Runtime.instance().logger.error(`worker stopped: ${(err as Error).message}`, { error: err as Error });
      // Forwarded logs are held back ~100 ms for ordering; exit() would drop them.
      Runtime.instance().flushLogs();
    } else {
      console.error(err instanceof InvalidEnvironmentError ? err.message : err);
    }
    process.exit(1);
  });
}
