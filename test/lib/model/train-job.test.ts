import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import { writeShard } from '../../../lib/dataset/shards';
import {
  disposeModel,
  loadCheckpoint,
  loadModelBundle,
  runTrainJob,
  saveCheckpoint,
  scanShards,
  shardTrainingData,
  trainModel,
  type TrainJob,
  type TrainJobEvent,
} from '../../../lib/model';
import { compileModel } from '../../../lib/model/architecture';
import { restoreOptimizerState } from '../../../lib/model/optimizer-state';
import { makeExamples } from './fixtures';

const IMAGE_SIZE = 8;
const CONFIG = pipelineConfigSchema.parse({
  train: {
    epochs: 3,
    batchSize: 16,
    learningRate: 0.02,
    seed: 5,
    conv: { filters: [4], denseUnits: 8 },
    embeddingDim: 2,
    shuffleBufferSize: 50,
  },
}).train;

let dir: string;
let shardUris: string[];

function job(name: string, overrides: Partial<TrainJob['config']> = {}): TrainJob {
  return {
    shardUris,
    imageSize: IMAGE_SIZE,
    featureSpec: ADS_FEATURE_SPEC,
    config: { ...CONFIG, ...overrides },
    outUri: path.join(dir, name),
  };
}

async function weightsOf(uri: string): Promise<Float32Array[]> {
  const bundle = await loadModelBundle(uri);
  try {
    return bundle.model.getWeights().map((w) => w.dataSync() as Float32Array);
  } finally {
    disposeModel(bundle.model);
  }
}

function maxAbsDifference(a: Float32Array[], b: Float32Array[]): number {
  assert.equal(a.length, b.length);
  let max = 0;
  a.forEach((values, i) => {
    assert.equal(values.length, b[i]!.length);
    values.forEach((v, j) => {
      max = Math.max(max, Math.abs(v - b[i]![j]!));
    });
  });
  return max;
}

/** What a job's checkpoints/ folder holds: the pointer and the checkpoint folders, sorted. */
function checkpointFolderSync(name: string): string[] {
  return readdirSync(path.join(dir, name, 'checkpoints')).sort();
}

/** Puts a file where a folder will be written, so writing under it fails. */
async function blockPath(...parts: string[]): Promise<string> {
  const file = path.join(dir, ...parts);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, 'in the way');
  return file;
}

void describe('training job: checkpoints, resume and seeds', () => {
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-train-job-'));
    const examples = makeExamples(150, 3, IMAGE_SIZE);
    // Three shards of unequal size, so batches cross shard boundaries.
    shardUris = [path.join(dir, 'a.arrow'), path.join(dir, 'b.arrow'), path.join(dir, 'c.arrow')];
    await writeShard(shardUris[0]!, examples.slice(0, 70), { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC });
    await writeShard(shardUris[1]!, examples.slice(70, 120), {
      imageSize: IMAGE_SIZE,
      spec: ADS_FEATURE_SPEC,
    });
    await writeShard(shardUris[2]!, examples.slice(120), { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC });
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('ends where an uninterrupted run ends after stopping at a checkpoint and resuming', async () => {
    // Looked at as each checkpoint is reported, before training goes on: the older one is gone.
    const seen: string[][] = [];
    const straight = await runTrainJob(job('straight'), {
      emit: (event) => {
        if (event.type === 'checkpoint') seen.push(checkpointFolderSync('straight'));
      },
    });
    assert.deepEqual(straight.epochsTrained, [1, 2, 3]);
    assert.deepEqual(seen, [
      ['epoch-1', 'latest.json'],
      ['epoch-2', 'latest.json'],
      ['epoch-3', 'latest.json'],
    ]);

    // First attempt: stopped right after its epoch-1 checkpoint, as a killed worker would be.
    const controller = new AbortController();
    const interrupted = job('interrupted');
    await assert.rejects(
      runTrainJob(interrupted, {
        signal: controller.signal,
        emit: (event) => {
          if (event.type === 'checkpoint') controller.abort();
        },
      }),
      (err: Error) => err.name === 'AbortError' && /epoch 2/.test(err.message),
    );
    assert.deepEqual(checkpointFolderSync('interrupted'), ['epoch-1', 'latest.json']);
    // Kept aside for the next test: the resumed run deletes it once its epoch-2 checkpoint is in place.
    await fs.cp(path.join(dir, 'interrupted', 'checkpoints', 'epoch-1'), path.join(dir, 'epoch-1-copy'), {
      recursive: true,
    });
    const events: TrainJobEvent[] = [];
    const resumed = await runTrainJob(interrupted, { emit: (event) => events.push(event) });
    assert.equal(resumed.resumedFromEpoch, 1);
    assert.deepEqual(resumed.epochsTrained, [2, 3]);
    assert.ok(events.some((e) => e.type === 'resumed' && e.checkpoint.epoch === 1));
    assert.ok(
      !events.some((e) => e.type === 'phase' && e.phase === 'scanning'),
      'a resumed run does not scan again',
    );

    const difference = maxAbsDifference(
      await weightsOf(straight.modelUri),
      await weightsOf(resumed.modelUri),
    );
    // Bit-exact on the CPU backend (same batches, same Adam moments, step and β powers); a tolerance elsewhere.
    const tolerance = straight.backend === 'cpu' ? 0 : 1e-6;
    assert.ok(difference <= tolerance, `weights differ by up to ${difference}`);
    assert.equal(resumed.lossHistory.length, 3);
    resumed.lossHistory.forEach((loss, i) => {
      const gap = Math.abs(loss - straight.lossHistory[i]!);
      assert.ok(gap <= tolerance, `epoch ${i + 1}: ${loss} vs ${straight.lossHistory[i]}`);
    });
  });

  void it('would not match without the optimizer state, which is what the checkpoint adds', async () => {
    const checkpoint = await loadCheckpoint(path.join(dir, 'epoch-1-copy'));
    tf.dispose(checkpoint.optimizerState.weights.map((w) => w.tensor));
    const straight = await loadModelBundle(path.join(dir, 'straight', 'model'));
    const { shards } = await scanShards(shardUris, IMAGE_SIZE, ADS_FEATURE_SPEC);
    const { preprocessing } = checkpoint.bundle;
    // The same batches in the same order as the resumed run, but Adam restarts: moments and step are gone.
    const { bundle } = await trainModel({
      data: shardTrainingData({
        shards,
        preprocessing,
        seed: CONFIG.seed,
        shuffleBufferSize: CONFIG.shuffleBufferSize,
      }),
      preprocessing,
      imageSize: IMAGE_SIZE,
      config: CONFIG,
      resumeFrom: { bundle: checkpoint.bundle, epochsDone: 1 },
    });
    try {
      const fresh = bundle.model.getWeights().map((w) => w.dataSync() as Float32Array);
      const reference = straight.model.getWeights().map((w) => w.dataSync() as Float32Array);
      assert.ok(maxAbsDifference(fresh, reference) > 1e-3);
    } finally {
      disposeModel(bundle.model);
      disposeModel(straight.model);
    }
  });

  void it('checkpoints every N epochs and after the last, pointer last, keeping only the newest', async () => {
    const reported: number[] = [];
    const result = await runTrainJob(job('every-2', { checkpointEveryEpochs: 2 }), {
      emit: (event) => {
        if (event.type === 'checkpoint') reported.push(event.checkpoint.epoch);
      },
    });
    assert.deepEqual(reported, [2, 3]);
    // The last one stays: until the caller records the model, a retry finishes from it.
    assert.deepEqual(checkpointFolderSync('every-2'), ['epoch-3', 'latest.json']);
    const pointer = JSON.parse(
      await fs.readFile(path.join(dir, 'every-2', 'checkpoints', 'latest.json'), 'utf8'),
    ) as {
      epoch: number;
      lossHistory: number[];
      shards: Array<{ rows: number }>;
    };
    assert.equal(pointer.epoch, 3);
    assert.deepEqual(pointer.lossHistory, result.lossHistory);
    assert.deepEqual(
      pointer.shards.map((s) => s.rows),
      [70, 50, 30],
    );
    assert.deepEqual((await fs.readdir(path.join(dir, 'every-2', 'checkpoints', 'epoch-3'))).sort(), [
      'model.json',
      'optimizer.bin',
      'optimizer.json',
      'preprocessing.json',
      'weights.bin',
    ]);
  });

  void it('deletes the older checkpoint a killed attempt had no time to delete, at the next checkpoint', async () => {
    const controller = new AbortController();
    const leftovers = job('leftovers');
    await assert.rejects(
      runTrainJob(leftovers, {
        signal: controller.signal,
        emit: (event) => {
          if (event.type === 'checkpoint' && event.checkpoint.epoch === 2) controller.abort();
        },
      }),
    );
    // Killed between writing the pointer to epoch 2 and deleting epoch 1.
    const checkpoints = path.join(dir, 'leftovers', 'checkpoints');
    await fs.cp(path.join(checkpoints, 'epoch-2'), path.join(checkpoints, 'epoch-1'), { recursive: true });
    const seen: string[][] = [];
    const resumed = await runTrainJob(leftovers, {
      emit: (event) => {
        if (event.type === 'checkpoint') seen.push(checkpointFolderSync('leftovers'));
      },
    });
    assert.equal(resumed.resumedFromEpoch, 2);
    assert.deepEqual(seen, [['epoch-3', 'latest.json']]);
  });

  void it('only saves the model when the last epoch was already checkpointed', async () => {
    const again = await runTrainJob(job('every-2', { checkpointEveryEpochs: 2 }));
    assert.equal(again.resumedFromEpoch, 3);
    assert.deepEqual(again.epochsTrained, []);
    assert.equal(again.lossHistory.length, 3);
  });

  void it('gives identical weights for the same seed on the CPU backend, different ones for another seed', async () => {
    const first = await runTrainJob(job('seed-a', { epochs: 2 }));
    const second = await runTrainJob(job('seed-b', { epochs: 2 }));
    const other = await runTrainJob(job('seed-c', { epochs: 2, seed: 6 }));
    const [a, b, c] = await Promise.all([first, second, other].map((r) => weightsOf(r.modelUri)));
    assert.equal(maxAbsDifference(a!, b!), 0);
    assert.deepEqual(first.lossHistory, second.lossHistory);
    assert.ok(maxAbsDifference(a!, c!) > 1e-3);
  });

  void it('round-trips the optimizer state: step count and every moment', async () => {
    const uri = path.join(dir, 'straight', 'checkpoints', 'epoch-3');
    const { bundle, optimizerState } = await loadCheckpoint(uri);
    try {
      assert.equal(optimizerState.weights[0]!.name, 'iter');
      // 150 rows in batches of 16: 10 steps an epoch.
      assert.equal(optimizerState.weights[0]!.tensor.dataSync()[0], 30);
      assert.equal(optimizerState.weights.length, 1 + 2 * bundle.model.trainableWeights.length);
      assert.ok(optimizerState.betaPowers && optimizerState.betaPowers[0] < 0.9 ** 30);
      const copy = path.join(dir, 'copy');
      compileModel(bundle.model, CONFIG);
      await restoreOptimizerState(bundle.model.optimizer, optimizerState);
      await saveCheckpoint(bundle, copy);
      const [original, copied] = await Promise.all([
        fs.readFile(path.join(uri, 'optimizer.bin')),
        fs.readFile(path.join(copy, 'optimizer.bin')),
      ]);
      assert.ok(original.equals(copied));
    } finally {
      disposeModel(bundle.model);
    }
  });

  void it('frees every model and optimizer state when checkpointing or saving fails, fresh or resumed', async () => {
    // Warm-up: tensors the backend keeps for good are not counted as leaks below.
    await runTrainJob(job('warm-up', { epochs: 1 }));
    const baseline = tf.memory().numTensors;
    const failing = job('failing');
    const secondCheckpoint = await blockPath('failing', 'checkpoints', 'epoch-2');

    await assert.rejects(runTrainJob(failing));
    assert.equal(tf.memory().numTensors, baseline, 'after a failed fresh run');
    await assert.rejects(runTrainJob(failing));
    assert.equal(tf.memory().numTensors, baseline, 'after a failed resumed run');

    await fs.rm(secondCheckpoint);
    await blockPath('failing', 'model');
    await assert.rejects(runTrainJob(failing));
    assert.equal(tf.memory().numTensors, baseline, 'after a failed final save');

    await fs.rm(path.join(dir, 'failing', 'model'));
    await runTrainJob(failing);
    assert.equal(tf.memory().numTensors, baseline, 'after a success');
  });
});
