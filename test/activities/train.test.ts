import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities/deps';
import { createTrainActivities, type TrainInput, type TrainResult } from '../../activities/train';
import { pipelineConfigSchema } from '../../lib/config-schema';
import type { AdExample } from '../../lib/dataset/schema';
import { writeShard } from '../../lib/dataset/shards';

const IMAGE_SIZE = 8;
const WORKFLOW_ID = 'train-test';
const TRAIN = pipelineConfigSchema.parse({
  train: { epochs: 2, batchSize: 16, seed: 3, conv: { filters: [2], denseUnits: 4 }, embeddingDim: 2 },
}).train;

function makeExamples(count: number): AdExample[] {
  return Array.from({ length: count }, (_, i) => ({
    ad_id: `ad-${i}`,
    clicked: i % 2,
    pixels: new Uint8Array(IMAGE_SIZE * IMAGE_SIZE * 3).fill((i * 37) % 256),
    advertiser: ['acme', 'globex'][i % 2]!,
    category: 'shoes',
    placement: 'feed',
    device: 'mobile',
    hour: i % 24,
    headline_length: 10 + i,
  }));
}

let store: string;
let trainUri: string;
let deps: ActivityDeps;

/** Runs trainModel as attempt of the given workflow run; a retry is the same run id again. */
function runTrain(runId: string): Promise<TrainResult> {
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: WORKFLOW_ID, runId } },
    { logger: new DefaultLogger('ERROR') },
  );
  const train = (input: TrainInput) => createTrainActivities(deps).trainModel(input);
  return env.run<[TrainInput], TrainResult, typeof train>(train, {
    trainUri,
    imageSize: IMAGE_SIZE,
    train: TRAIN,
  });
}

/** Puts a file where a model folder will be written, so saving it fails. */
async function blockPath(runId: string, ...parts: string[]): Promise<string> {
  const file = path.join(store, 'runs', WORKFLOW_ID, runId, 'train', ...parts);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, 'in the way');
  return file;
}

void describe('trainModel activity', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-train-store-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
    trainUri = path.join(store, 'train.arrow');
    await writeShard(trainUri, makeExamples(32), IMAGE_SIZE);
    // Warm up, so tensors the backend keeps for good are not counted as leaks below.
    await runTrain('warm-up');
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('frees every model when checkpointing or saving fails, fresh or resumed', async () => {
    const baseline = tf.memory().numTensors;
    const runId = 'failing';
    const secondCheckpoint = await blockPath(runId, 'checkpoints', 'epoch-2');

    // Fresh: epoch 1 is checkpointed, epoch 2's checkpoint fails.
    await assert.rejects(runTrain(runId));
    assert.equal(tf.memory().numTensors, baseline, 'after a failed fresh attempt');

    // Resumed from epoch 1: the loaded checkpoint must be freed when epoch 2 fails again.
    await assert.rejects(runTrain(runId));
    assert.equal(tf.memory().numTensors, baseline, 'after a failed resumed attempt');

    // Resumed and trained to the end, but the final save fails.
    await fs.rm(secondCheckpoint);
    await blockPath(runId, 'model');
    await assert.rejects(runTrain(runId));
    assert.equal(tf.memory().numTensors, baseline, 'after a failed final save');
  });

  void it('frees the trained model after saving it', async () => {
    const baseline = tf.memory().numTensors;
    const result = await runTrain('succeeding');
    assert.equal(result.epochsTrainedThisAttempt, TRAIN.epochs);
    assert.equal(tf.memory().numTensors, baseline);
  });
});
