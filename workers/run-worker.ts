/** The shared `main()` of worker entry points: validated environment, connection, run until a signal drains it. */
import { NativeConnection, type Worker } from '@temporalio/worker';
import { readWorkerEnv, temporalConnectionOptions, type WorkerEnv } from '../lib/worker-env';

/** Connects, creates the worker with `create`, runs it, and closes the connection; exits 1 on failure. */
export function runWorkerMain(
  create: (connection: NativeConnection, env: WorkerEnv) => Promise<Worker>,
): void {
  const main = async () => {
    const env = readWorkerEnv();
    const connection = await NativeConnection.connect(temporalConnectionOptions(env));
    try {
      // Worker.run() drains in-flight tasks on SIGINT/SIGTERM before resolving.
      await (await create(connection, env)).run();
    } finally {
      await connection.close();
    }
  };
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
