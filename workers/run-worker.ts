/** The shared `main()` of worker entry points: validated environment, connection, run until a signal drains it. */
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import {
  describeTemporalConnection,
  InvalidEnvironmentError,
  readWorkerEnv,
  temporalConnectionOptions,
  type WorkerEnv,
} from '../lib/worker-env';

/** Connects, creates the worker with `create`, runs it, and closes the connection; exits 1 on failure. */
export function runWorkerMain(
  create: (connection: NativeConnection, env: WorkerEnv) => Promise<Worker>,
): void {
  const main = async () => {
    // Every bad variable and unreadable certificate in one error, before anything connects.
    const env = readWorkerEnv();
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
      await (await create(connection, env)).run();
    } finally {
      await connection.close();
    }
  };
  main().catch((err) => {
    // A configuration problem is fully said by its message; anything else keeps its stack.
    console.error(err instanceof InvalidEnvironmentError ? err.message : err);
    process.exit(1);
  });
}
