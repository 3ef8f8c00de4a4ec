import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { ActivityDeps } from '../../../activities/deps';
import {
  createTrainActivities,
  type TrainAttemptLog,
  type TrainHeartbeat,
  type TrainInput,
  type TrainResult,
} from '../../../activities/train/train';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import { writeShard } from '../../../lib/dataset/shards';
import { runTrainJob, type CheckpointPointer } from '../../../lib/model/index';
import { makeExamples } from '../../lib/model/fixtures';

const IMAGE_SIZE = 8;
const WORKFLOW_ID = 'train-test';
const TRAIN = pipelineConfigSchema.parse({
  train: { epochs: 2, batchSize: 16, seed: 3, conv: { filters: [2], denseUnits: 4 }, embeddingDim: 2 },
}).train;
/** Long enough to act on mid-run: 25 batches an epoch. */
const LONG_TRAIN = { ...TRAIN, epochs: 30 };
const HEARTBEAT_MS = 100;

let store: string;
let trainUri: string;
let deps: ActivityDeps;

interface Attempt {
  env: MockActivityEnvironment;
  heartbeats: Array<{ at: number; details: TrainHeartbeat }>;
  result: Promise<TrainResult>;
}

/** Starts trainModel as the given attempt of a workflow run; a retry is the same run id with the next attempt. */
function startAttempt(runId: string, attempt: number, input: Partial<TrainInput> = {}): Attempt {
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: WORKFLOW_ID, runId }, attempt },
    { logger: new DefaultLogger('ERROR') },
  );
  const heartbeats: Attempt['heartbeats'] = [];
  env.on('heartbeat', (details: TrainHeartbeat) => heartbeats.push({ at: performance.now(), details }));
  const activities = createTrainActivities(deps, { heartbeatIntervalMs: HEARTBEAT_MS, killGraceMs: 2_000 });
  const trainModel = (input: TrainInput) => activities.trainModel(input);
  const result = env.run<[TrainInput], TrainResult, typeof trainModel>(trainModel, {
    trainUri,
    imageSize: IMAGE_SIZE,
    train: TRAIN,
    ...input,
  });
  return { env, heartbeats, result };
}

function trainDir(runId: string): string {
  return path.join(store, 'runs', WORKFLOW_ID, runId, 'train');
}

/** Every file in a run's train stage folder, relative to it. */
async function trainFiles(runId: string): Promise<string[]> {
  const dir = trainDir(runId);
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** The checkpoint folders that hold a whole checkpoint (model.json is written last). */
async function completeCheckpoints(runId: string): Promise<string[]> {
  const files = await trainFiles(runId);
  return files
    .filter((file) => /^checkpoints\/epoch-\d+\/model\.json$/.test(file))
    .map((file) => path.dirname(file));
}

async function readAttemptLog(runId: string, attempt: number): Promise<TrainAttemptLog> {
  const file = path.join(store, 'runs', WORKFLOW_ID, runId, 'train', 'attempts', `attempt-${attempt}.json`);
  return JSON.parse(await fs.readFile(file, 'utf8')) as TrainAttemptLog;
}

/** Resolves with the first heartbeat that satisfies `predicate`. */
function heartbeatWhere(
  attempt: Attempt,
  predicate: (details: TrainHeartbeat) => boolean,
): Promise<TrainHeartbeat> {
  return new Promise((resolve, reject) => {
    const listener = (details: TrainHeartbeat) => {
      if (!predicate(details)) return;
      attempt.env.off('heartbeat', listener);
      resolve(details);
    };
    attempt.env.on('heartbeat', listener);
    attempt.result.then(() => reject(new Error('the attempt ended first')), reject);
  });
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

void describe('trainModel activity', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-train-store-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
    trainUri = path.join(store, 'train.arrow');
    await writeShard(trainUri, makeExamples(400, 2, IMAGE_SIZE), {
      imageSize: IMAGE_SIZE,
      spec: ADS_FEATURE_SPEC,
    });
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('trains in its own process, heartbeating epoch, batch, loss, backend and device from a timer', async () => {
    const attempt = startAttempt('in-a-process', 1, { train: { ...TRAIN, epochs: 6 } });
    const result = await attempt.result;
    assert.equal(result.epochsTrainedThisAttempt, 6);
    assert.equal(result.resumedFromEpoch, 0);
    assert.equal(result.examples, 400);
    assert.equal(result.backend, 'cpu');

    const log = await readAttemptLog('in-a-process', 1);
    assert.ok(log.pid && log.pid !== process.pid, 'training ran in another process');
    assert.deepEqual(log.epochsStarted, [1, 2, 3, 4, 5, 6]);
    assert.equal(log.outcome, 'completed');
    // The saved model says what trained it.
    const modelJson = JSON.parse(await fs.readFile(path.join(result.modelUri, 'model.json'), 'utf8')) as {
      userDefinedMetadata?: { training?: { backend?: string; device?: string; epochs?: number } };
    };
    assert.deepEqual(
      [modelJson.userDefinedMetadata?.training?.backend, modelJson.userDefinedMetadata?.training?.epochs],
      ['cpu', 6],
    );

    const last = attempt.heartbeats.at(-1)!.details;
    assert.equal(last.backend, 'cpu');
    assert.equal(last.device, 'cpu (TF.js pure JavaScript)');
    assert.equal(last.epoch, 6);
    assert.equal(last.batch, last.batchesPerEpoch);
    assert.ok(Number.isFinite(last.loss) && last.loss > 0);
    assert.deepEqual(last.checkpoint?.epoch, 6);
    // A timer, not the batches, paces heartbeats: no long silences while the CPU trains.
    const gaps = attempt.heartbeats.slice(1).map((h, i) => h.at - attempt.heartbeats[i]!.at);
    assert.ok(Math.max(...gaps) < 10 * HEARTBEAT_MS, `longest silence ${Math.max(...gaps)} ms`);

    // Six checkpoints were written (one an epoch) and none is left: the model is what later stages use.
    assert.deepEqual(log.checkpoints, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(await trainFiles('in-a-process'), [
      'attempts/attempt-1.json',
      'model/model.json',
      'model/preprocessing.json',
      'model/weights.bin',
      'result.json',
    ]);
  });

  void it('returns the stored result when run again, deleting checkpoints an attempt died before deleting', async () => {
    // As if attempt 1 had died between recording its result and deleting its last checkpoint.
    const checkpoints = path.join(trainDir('in-a-process'), 'checkpoints');
    await fs.cp(path.join(trainDir('in-a-process'), 'model'), path.join(checkpoints, 'epoch-6'), {
      recursive: true,
    });
    await fs.writeFile(path.join(checkpoints, 'latest.json'), '{}');
    const first = await startAttempt('in-a-process', 2).result;
    assert.equal(first.attempt, 1, 'the result of the attempt that trained');
    await assert.rejects(fs.access(checkpoints), { code: 'ENOENT' });
  });

  void it('finishes from the last checkpoint without training when the model was saved but not recorded', async () => {
    // What a worker that died after its training process saved the model leaves: the model and the
    // last checkpoint, no result.json.
    const outUri = trainDir('unrecorded');
    const job = await runTrainJob({
      shardUris: [trainUri],
      imageSize: IMAGE_SIZE,
      featureSpec: ADS_FEATURE_SPEC,
      config: TRAIN,
      outUri,
    });
    const weights = await fs.readFile(path.join(job.modelUri, 'weights.bin'));
    assert.deepEqual(await completeCheckpoints('unrecorded'), [`checkpoints/epoch-${TRAIN.epochs}`]);

    const result = await startAttempt('unrecorded', 2).result;
    assert.equal(result.resumedFromEpoch, TRAIN.epochs);
    assert.equal(result.epochsTrainedThisAttempt, 0);
    assert.deepEqual(await fs.readFile(path.join(result.modelUri, 'weights.bin')), weights);
    assert.deepEqual(await trainFiles('unrecorded'), [
      'attempts/attempt-2.json',
      'model/model.json',
      'model/preprocessing.json',
      'model/weights.bin',
      'result.json',
    ]);
  });

  void it('stops the training process promptly on cancellation and rethrows it', async () => {
    const attempt = startAttempt('cancelled', 1, { train: LONG_TRAIN });
    const { pid } = await heartbeatWhere(attempt, (h) => h.checkpoint?.epoch === 1);
    const cancelledAt = performance.now();
    attempt.env.cancel();
    await assert.rejects(attempt.result, (err) => err instanceof CancelledFailure);
    assert.ok(performance.now() - cancelledAt < 2_000, 'stopped within the grace period');
    assert.ok(pid && isGone(pid), 'the training process is gone');
    assert.equal((await readAttemptLog('cancelled', 1)).outcome, 'cancelled');
  });

  void it('resumes a retried attempt from the last checkpoint instead of epoch 1', async () => {
    const before = await readAttemptLog('cancelled', 1);
    const lastCheckpoint = before.checkpoints.at(-1)!;
    const result = await startAttempt('cancelled', 2, { train: LONG_TRAIN }).result;
    assert.equal(result.resumedFromEpoch, lastCheckpoint);
    assert.equal(result.epochsTrainedThisAttempt, LONG_TRAIN.epochs - lastCheckpoint);
    assert.equal((await readAttemptLog('cancelled', 2)).epochsStarted[0], lastCheckpoint + 1);
  });

  void it('fails the attempt retryably, naming the exit, when the training process dies', async () => {
    const attempt = startAttempt('killed', 1, { train: LONG_TRAIN });
    // In the first half of an epoch, well away from the checkpoint written at its end.
    const { pid } = await heartbeatWhere(
      attempt,
      (h) => h.epoch >= 2 && h.batch > 0 && h.batch <= h.batchesPerEpoch / 2,
    );
    process.kill(pid!, 'SIGKILL');
    await assert.rejects(attempt.result, (err) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'TrainingProcessDied');
      assert.equal(err.nonRetryable, false);
      assert.match(
        err.message,
        // The kill may land mid-epoch or just as the next epoch starts; both are named.
        new RegExp(
          `training process ${pid} was killed by SIGKILL (during epoch \\d+, batch \\d+/25|at the start of epoch \\d+)`,
        ),
      );
      assert.match(err.message, /the last checkpoint is epoch \d+/);
      return true;
    });
    // One whole checkpoint is left, the one the pointer names: the older ones went as each newer one was in place.
    const pointer = JSON.parse(
      await fs.readFile(path.join(trainDir('killed'), 'checkpoints', 'latest.json'), 'utf8'),
    ) as CheckpointPointer;
    assert.ok(pointer.epoch >= 1);
    assert.deepEqual(await completeCheckpoints('killed'), [`checkpoints/epoch-${pointer.epoch}`]);

    const retried = await startAttempt('killed', 2, { train: LONG_TRAIN }).result;
    assert.equal(retried.resumedFromEpoch, pointer.epoch);
    assert.equal(retried.resumedFromEpoch + retried.epochsTrainedThisAttempt, LONG_TRAIN.epochs);
    assert.ok(!(await trainFiles('killed')).some((file) => file.startsWith('checkpoints')));
  });

  void it('fails permanently on a shard that is not Arrow', async () => {
    const garbage = path.join(store, 'garbage.arrow');
    await fs.writeFile(garbage, 'not arrow');
    await assert.rejects(startAttempt('garbage', 1, { trainUri: garbage }).result, (err) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /not an Arrow IPC file/);
      return true;
    });
  });
});
