/**
 * The training process: started by the train activity with child_process.fork, it runs one
 * TrainJob and reports over IPC. Training here cannot stall the worker's event loop, and a crash
 * in TensorFlow's native code ends this process, not the worker. SIGTERM or SIGINT stop it at the
 * next batch; so does losing the parent (a killed worker), so no orphan keeps training.
 */
import { runTrainJob } from './train-job';
import type { StartMessage, TrainProcessMessage } from './train-protocol';

/** A parent that is gone gets this long for the current batch or checkpoint write to finish. */
const ORPHAN_EXIT_MS = 30_000;

function send(message: TrainProcessMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    // Resolves on error too: a parent that went away cannot be told anything.
    process.send(message, undefined, {}, () => resolve());
  });
}

function waitForJob(): Promise<StartMessage['job']> {
  return new Promise((resolve, reject) => {
    process.once('message', (message: StartMessage) => {
      if (message?.type === 'start') resolve(message.job);
      else reject(new Error(`expected a start message, got ${JSON.stringify(message)}`));
    });
    process.once('disconnect', () => reject(new Error('parent went away before sending a job')));
  });
}

async function main(): Promise<number> {
  if (!process.send)
    throw new Error('the training process must be started by child_process.fork (no IPC channel)');
  const controller = new AbortController();
  const stop = (reason: string) => {
    if (!controller.signal.aborted) controller.abort(new Error(reason));
  };
  process.on('SIGTERM', () => stop('received SIGTERM'));
  process.on('SIGINT', () => stop('received SIGINT'));
  process.on('disconnect', () => {
    stop('the worker that started this training process is gone');
    setTimeout(() => process.exit(3), ORPHAN_EXIT_MS).unref();
  });

  const job = await waitForJob();
  try {
    const result = await runTrainJob(job, {
      emit: (event) => void send({ type: 'event', event }),
      signal: controller.signal,
    });
    await send({ type: 'result', result });
    return 0;
  } catch (err) {
    const error = err as Error;
    await send({
      type: 'error',
      error: { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) },
    });
    return controller.signal.aborted ? 2 : 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
