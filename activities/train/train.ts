/**
 * Train: fits the model in a separate training process (lib/model/train-process) and watches it.
 * A timer heartbeats progress every few seconds whatever the training does; cancelling stops the
 * process; a process that dies fails the attempt retryably; every attempt resumes from the last
 * checkpoint (weights and optimizer state) the earlier ones left in the store. Once the result is
 * recorded, that checkpoint is deleted: the model is what later stages use.
 */
// TODO(issue 13): the run's own spec, once ingest writes shards by it; the ads are all it reads today.
import { readShardLayout, ShardFormatError } from '../../lib/dataset/shards';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { pipelineConfigSchema, type PipelineConfig } from '../../contracts/pipeline-config';
import {
  runTrainingProcess,
  TrainingJobError,
  TrainingProcessExitError,
  type CheckpointRef,
  type TrainJobEvent,
  type TrainPhase,
} from '../../lib/model/index';
import { deleteCheckpoints } from '../../lib/model/train-checkpoints';
import { joinUri, readJsonIfExists, writeJson } from '../../lib/storage/index';
import { type ActivityDeps, stageUri } from '../deps';
import { FAILURE } from '../../contracts/failures';

export interface TrainInput {
  /** The training split as one Arrow shard (what ingest writes today)… */
  trainUri?: string;
  /** …or as several, which each epoch visits in a seeded order through one shuffle buffer. */
  trainUris?: string[];
  imageSize: number;
  train: PipelineConfig['train'];
}

export interface TrainResult {
  modelUri: string;
  backend: string;
  device: string;
  epochs: number;
  /** Epochs this attempt trained itself; fewer than `epochs` when it resumed from a checkpoint. */
  epochsTrainedThisAttempt: number;
  /** The checkpoint epoch this attempt resumed after; 0 when it started fresh. */
  resumedFromEpoch: number;
  /** The activity attempt that finished the training. */
  attempt: number;
  finalLoss: number;
  examples: number;
  /** Seconds the finishing attempt spent in its epochs (batches and checkpoints). */
  trainingSeconds: number;
}

/** What a heartbeat carries: the latest batch, the newest checkpoint, and where training runs. */
export interface TrainHeartbeat {
  /** What the training process is doing; 'starting' until it reports. */
  phase: TrainPhase | 'starting';
  /** Epoch and batch (1-based) of the latest batch trained; 0 before this attempt's first batch. */
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  /** Loss on that batch (0 before the first one). */
  loss: number;
  checkpoint?: CheckpointRef;
  backend: string;
  device: string;
  attempt: number;
  /** The training process, once started (it runs on the worker that heartbeats). */
  pid?: number;
}

/**
 * One attempt's record, at `attempts/attempt-N.json` in the stage folder, rewritten as it goes:
 * which epochs it started and checkpointed, and how it ended (nothing, if its worker was killed).
 */
export interface TrainAttemptLog {
  attempt: number;
  startedAt: string;
  pid?: number;
  resumedFromEpoch?: number;
  epochsStarted: number[];
  checkpoints: number[];
  backend?: string;
  device?: string;
  endedAt?: string;
  outcome?: 'completed' | 'failed' | 'cancelled';
  error?: string;
}

export interface TrainActivityOptions {
  /** How often the activity heartbeats while the training process runs. */
  heartbeatIntervalMs?: number;
  /** How long a cancelled training process may take to stop before it is killed. */
  killGraceMs?: number;
}

/** Job failures that no retry can fix. */
// Bad shards and bad model code: no retry can help.
const PERMANENT_ERRORS = new Set(['ShardFormatError', 'ModelModuleError']);

/** Writes an attempt log in order, each write replacing the last; failures are logged, never thrown. */
function attemptLogWriter(uri: string, initial: TrainAttemptLog) {
  const record = initial;
  let writing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    const snapshot = structuredClone(record);
    writing = writing.then(async () => {
      try {
        await writeJson(uri, snapshot);
      } catch (err) {
        log.warn('cannot write the training attempt log', { uri, error: String(err) });
      }
    });
    return writing;
  };
  return { record, flush };
}

/**
 * Deletes the run's last checkpoint once result.json records the model, so a retry can no longer
 * need it. A failure only leaves bytes behind, never a wrong model: logged, not thrown.
 */
async function removeCheckpoints(outUri: string): Promise<void> {
  try {
    await deleteCheckpoints(outUri);
  } catch (err) {
    log.warn('cannot delete the training checkpoints; the model is saved, they are left in the store', {
      uri: outUri,
      error: String(err),
    });
  }
}

export function createTrainActivities(deps: ActivityDeps, options: TrainActivityOptions = {}) {
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 2_000;
  return {
    /** Trains the candidate model in a training process; idempotent per workflow run and resumable per checkpoint. */
    async trainModel(input: TrainInput): Promise<TrainResult> {
      const outUri = stageUri(deps.storeUri, 'train');
      const resultUri = joinUri(outUri, 'result.json');
      const finished = await readJsonIfExists<TrainResult>(resultUri);
      if (finished) {
        // A retry after the completion was lost: the earlier attempt may have died before its cleanup.
        await removeCheckpoints(outUri);
        return finished;
      }

      const context = Context.current();
      const attempt = context.info.attempt;
      // Workflows started before a train setting existed pass configs without it: fill in defaults here too.
      const config = pipelineConfigSchema.shape.train.parse(input.train);
      const shardUris = input.trainUris ?? (input.trainUri ? [input.trainUri] : []);
      if (shardUris.length === 0) {
        throw ApplicationFailure.create({
          nonRetryable: true,
          message: 'trainModel needs trainUri or trainUris',
        });
      }

      const attemptLog = attemptLogWriter(joinUri(outUri, 'attempts', `attempt-${attempt}.json`), {
        attempt,
        startedAt: new Date().toISOString(),
        epochsStarted: [],
        checkpoints: [],
      });
      void attemptLog.flush();
      const state: TrainHeartbeat = {
        phase: 'starting',
        epoch: 0,
        batch: 0,
        batchesPerEpoch: 0,
        loss: 0,
        backend: 'unknown',
        device: 'unknown',
        attempt,
      };
      const beat = () => context.heartbeat({ ...state });
      const onEvent = (event: TrainJobEvent) => {
        switch (event.type) {
          case 'backend':
            Object.assign(state, { backend: event.backend, device: event.device });
            Object.assign(attemptLog.record, { backend: event.backend, device: event.device });
            log.info('training on', { backend: event.backend, device: event.device });
            break;
          case 'phase':
            state.phase = event.phase;
            break;
          case 'resumed':
            state.checkpoint = event.checkpoint;
            attemptLog.record.resumedFromEpoch = event.checkpoint.epoch;
            log.info('resuming training from checkpoint', { ...event.checkpoint });
            void attemptLog.flush();
            break;
          case 'epoch-start':
            attemptLog.record.epochsStarted.push(event.epoch);
            void attemptLog.flush();
            break;
          case 'progress':
            Object.assign(state, {
              epoch: event.epoch,
              batch: event.batch,
              batchesPerEpoch: event.batchesPerEpoch,
              loss: event.loss,
            });
            break;
          case 'checkpoint':
            state.checkpoint = event.checkpoint;
            attemptLog.record.checkpoints.push(event.checkpoint.epoch);
            void attemptLog.flush();
            beat();
            break;
        }
      };

      beat();
      const timer = setInterval(beat, heartbeatIntervalMs);
      const end = async (outcome: NonNullable<TrainAttemptLog['outcome']>, error?: string) => {
        Object.assign(attemptLog.record, {
          outcome,
          endedAt: new Date().toISOString(),
          ...(error ? { error } : {}),
        });
        await attemptLog.flush();
      };
      let job;
      try {
        // The shards say what their columns are: the model is built from the spec they were ingested by.
        const { spec: featureSpec } = await readShardLayout(shardUris[0]!);
        job = await runTrainingProcess(
          { shardUris, imageSize: input.imageSize, featureSpec, config, outUri },
          {
            onEvent,
            signal: context.cancellationSignal,
            ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
            onSpawn: (pid) => {
              attemptLog.record.pid = pid;
              state.pid = pid;
              log.info('training process started', { pid, attempt });
            },
          },
        );
      } catch (err) {
        if (context.cancellationSignal.aborted) {
          await end('cancelled');
          // The activity's own cancellation (a CancelledFailure), so Temporal records a cancel, not a failure.
          throw context.cancellationSignal.reason;
        }
        await end('failed', (err as Error).message);
        if (err instanceof TrainingProcessExitError) {
          throw ApplicationFailure.create({
            type: FAILURE.TrainingProcessDied,
            message: `${err.message}; the retry resumes from the last checkpoint`,
            details: [{ pid: err.pid, code: err.code, signal: err.signal }],
          });
        }
        if (err instanceof ShardFormatError) {
          throw ApplicationFailure.create({
            type: 'ShardFormatError',
            message: `training failed: ${err.message}`,
            nonRetryable: true,
          });
        }
        if (err instanceof TrainingJobError) {
          throw ApplicationFailure.create({
            type: err.remoteName,
            message: `training failed: ${err.message}`,
            nonRetryable: PERMANENT_ERRORS.has(err.remoteName),
          });
        }
        throw err;
      } finally {
        clearInterval(timer);
      }
      await end('completed');
      const result: TrainResult = {
        modelUri: job.modelUri,
        backend: job.backend,
        device: job.device,
        epochs: job.epochs,
        epochsTrainedThisAttempt: job.epochsTrained.length,
        resumedFromEpoch: job.resumedFromEpoch,
        attempt,
        finalLoss: job.finalLoss,
        examples: job.examples,
        trainingSeconds: job.trainingMs / 1000,
      };
      // Recorded before the checkpoints go: a retry before this line finishes from the last checkpoint
      // (saving the model again, no training), a retry after returns this result.
      await writeJson(resultUri, result);
      await removeCheckpoints(outUri);
      return result;
    },
  };
}
