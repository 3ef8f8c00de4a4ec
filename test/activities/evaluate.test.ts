import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities/deps';
import {
  createEvaluateActivities,
  type EvaluateInput,
  type EvaluationResult,
} from '../../activities/evaluate';
import { pipelineConfigSchema } from '../../lib/config-schema';
import type { AdExample } from '../../lib/dataset/schema';
import { createModel, disposeModel, fitPreprocessing, loadTfBackend, saveModelBundle } from '../../lib/model';

const IMAGE_SIZE = 8;
const CONFIG = pipelineConfigSchema.parse({
  train: { conv: { filters: [2], denseUnits: 4 }, embeddingDim: 2 },
});

const examples: AdExample[] = Array.from({ length: 8 }, (_, i) => ({
  ad_id: `ad-${i}`,
  clicked: i % 2,
  pixels: new Uint8Array(IMAGE_SIZE * IMAGE_SIZE * 3),
  advertiser: 'acme',
  category: 'shoes',
  placement: 'feed',
  device: 'mobile',
  hour: i,
  headline_length: 10,
}));

let store: string;
let modelUri: string;
let deps: ActivityDeps;

function evaluate(input: EvaluateInput): Promise<EvaluationResult> {
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'evaluate-test', runId: 'run' } },
    { logger: new DefaultLogger('ERROR') },
  );
  const run = (i: EvaluateInput) => createEvaluateActivities(deps).evaluateModel(i);
  return env.run<[EvaluateInput], EvaluationResult, typeof run>(run, input);
}

void describe('evaluateModel activity', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-evaluate-store-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
    await loadTfBackend();
    const preprocessing = fitPreprocessing(examples, IMAGE_SIZE);
    const model = createModel(CONFIG.train, preprocessing);
    modelUri = path.join(store, 'model');
    await saveModelBundle({ model, preprocessing }, modelUri);
    disposeModel(model);
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('leaks no model when the eval shard cannot be read', async () => {
    const baseline = tf.memory().numTensors;
    await assert.rejects(
      evaluate({
        candidateModelUri: modelUri,
        evalUri: path.join(store, 'missing.arrow'),
        thresholds: CONFIG.evaluate,
      }),
    );
    // A model load started alongside the shard read would still be finishing; give it time to.
    await sleep(300);
    assert.equal(tf.memory().numTensors, baseline);
  });
});
