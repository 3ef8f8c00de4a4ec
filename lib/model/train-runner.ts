/** Runs a TrainJob in its own process (lib/model/train-process) and relays its events; the parent side of the IPC. */
import { fork } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TrainJob, TrainJobEvent, TrainJobResult } from './train-job';
import type { StartMessage, TrainProcessMessage } from './train-protocol';

/** The entry point next to this file: train-process.ts under tsx (dev, tests), train-process.js once built. */
const ENTRY = path.join(__dirname, `train-process${path.extname(__filename)}`);

/** A .ts entry needs tsx's loader whatever the parent runs under (node --import tsx, tsx, require('tsx/cjs')). */
function childExecArgv(): string[] {
  return ENTRY.endsWith('.ts') ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];
}

export interface TrainingProcessOptions {
  onEvent?: (event: TrainJobEvent) => void;
  /** Stops the process: SIGTERM (it stops after the current batch), then SIGKILL after `killGraceMs`. */
  signal?: AbortSignal;
  killGraceMs?: number;
  /** Added to the inherited environment (MLOPS_TF_BACKEND and the rest pass through unchanged). */
  env?: NodeJS.ProcessEnv;
  /** Told the child's pid once it is started. */
  onSpawn?: (pid: number) => void;
}

/** The training process ended without reporting a result or an error: killed, crashed in native code, out of memory. */
export class TrainingProcessExitError extends Error {
  constructor(
    readonly pid: number | undefined,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly during: string,
  ) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    super(`training process ${pid ?? '?'} ${how} ${during}`);
    this.name = 'TrainingProcessExitError';
  }
}

/** The training process reported that the job failed; name, message and stack are the child's. */
export class TrainingJobError extends Error {
  constructor(
    readonly remoteName: string,
    message: string,
    readonly remoteStack?: string,
  ) {
    super(message);
    this.name = 'TrainingJobError';
  }
}

/** Where the job was when it went quiet, for error messages. */
function whereItWas(last: TrainJobEvent | undefined, checkpoint: number | undefined): string {
  const position =
    last?.type === 'progress'
      ? `during epoch ${last.epoch}, batch ${last.batch}/${last.batchesPerEpoch}`
      : last?.type === 'epoch-start'
        ? `at the start of epoch ${last.epoch}`
        : last?.type === 'phase'
          ? `while ${last.phase}`
          : 'before reporting anything';
  return `${position}; ${checkpoint ? `the last checkpoint is epoch ${checkpoint}` : 'no checkpoint was written yet'}`;
}

const DEFAULT_KILL_GRACE_MS = 10_000;

/** Forks the training process, sends it the job and settles with its result, its error, or how it died. */
export function runTrainingProcess(
  job: TrainJob,
  options: TrainingProcessOptions = {},
): Promise<TrainJobResult> {
  const { signal, onEvent } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const child = fork(ENTRY, [], {
      execArgv: childExecArgv(),
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let result: TrainJobResult | undefined;
    let reported: TrainingJobError | undefined;
    let last: TrainJobEvent | undefined;
    let checkpoint: number | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const stop = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    };
    signal?.addEventListener('abort', stop, { once: true });

    child.on('message', (message: TrainProcessMessage) => {
      switch (message.type) {
        case 'event':
          switch (message.event.type) {
            case 'checkpoint':
            case 'resumed':
              checkpoint = message.event.checkpoint.epoch;
              break;
            case 'backend':
              break;
            default:
              last = message.event;
          }
          onEvent?.(message.event);
          break;
        case 'result':
          result = message.result;
          break;
        case 'error':
          reported = new TrainingJobError(message.error.name, message.error.message, message.error.stack);
          break;
      }
    });
    // 'close' comes after 'exit' and after the IPC channel closed, so every message has been handled.
    child.once('close', (code, exitSignal) => {
      signal?.removeEventListener('abort', stop);
      clearTimeout(killTimer);
      if (signal?.aborted) reject(signal.reason as Error);
      else if (result) resolve(result);
      else if (reported) reject(reported);
      else reject(new TrainingProcessExitError(child.pid, code, exitSignal, whereItWas(last, checkpoint)));
    });
    child.once('error', (err) => {
      // Only a failed spawn gets here without a 'close' to follow.
      if (child.pid === undefined) {
        signal?.removeEventListener('abort', stop);
        reject(new Error(`cannot start the training process (${ENTRY}): ${err.message}`, { cause: err }));
      }
    });
    if (child.pid === undefined) return;
    options.onSpawn?.(child.pid);
    child.send({ type: 'start', job } satisfies StartMessage);
  });
}
