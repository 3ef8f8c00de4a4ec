import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { pipelineConfigSchema, type PipelineConfig } from '../../../contracts/pipeline-config';
import { computeAuc } from '../../../lib/model/metrics';
import {
  createModel,
  disposeModel,
  encodeBatch,
  fitPreprocessing,
  loadModelBundle,
  ModelBundleError,
  OOV_INDEX,
  predictProbabilities,
  saveModelBundle,
  trainModel,
  type ModelBundle,
  type TrainProgress,
} from '../../../lib/model';
import { makeExamples } from './fixtures';

const IMAGE_SIZE = 8;
const CONFIG: PipelineConfig['train'] = pipelineConfigSchema.parse({
  train: { epochs: 6, batchSize: 16, learningRate: 0.02, seed: 7, conv: { filters: [4, 8], denseUnits: 8 } },
}).train;

const examples = makeExamples(64, 1, IMAGE_SIZE);

void describe('model library', () => {
  let trained: ModelBundle;
  let lossHistory: number[];
  const progress: TrainProgress[] = [];
  const epochsEnded: number[] = [];
  let dir: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-model-test-'));
    const result = await trainModel({
      examples,
      featureSpec: ADS_FEATURE_SPEC,
      imageSize: IMAGE_SIZE,
      config: CONFIG,
      onProgress: (p) => {
        progress.push(p);
      },
      onEpochEnd: ({ epoch }) => {
        epochsEnded.push(epoch);
        return Promise.resolve();
      },
    });
    trained = result.bundle;
    lossHistory = result.lossHistory;
  });

  after(async () => {
    disposeModel(trained.model);
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('reduces loss and separates the classes on its training data', async () => {
    assert.equal(lossHistory.length, CONFIG.epochs);
    assert.ok(lossHistory.at(-1)! < lossHistory[0]!, `loss did not fall: ${lossHistory.join(', ')}`);
    const scores = await predictProbabilities(trained, examples);
    const auc = computeAuc(
      examples.map((e) => e.clicked),
      scores,
    );
    assert.ok(auc > 0.7, `training AUC ${auc}`);
  });

  void it('reports progress after every batch and each epoch, numbered from 1', () => {
    const batchesPerEpoch = Math.ceil(examples.length / CONFIG.batchSize);
    assert.equal(progress.length, CONFIG.epochs * batchesPerEpoch);
    assert.deepEqual(progress[0], { ...progress[0], epoch: 1, batch: 1, batchesPerEpoch });
    assert.ok(progress.every((p) => Number.isFinite(p.loss)));
    assert.deepEqual(epochsEnded, [1, 2, 3, 4, 5, 6]);
  });

  void it('predicts the same after save and load', async () => {
    const uri = path.join(dir, 'bundle');
    await saveModelBundle(trained, uri);
    assert.deepEqual((await fs.readdir(uri)).sort(), ['model.json', 'preprocessing.json', 'weights.bin']);
    const loaded = await loadModelBundle(uri);
    try {
      assert.deepEqual(loaded.preprocessing, trained.preprocessing);
      assert.deepEqual(
        await predictProbabilities(loaded, examples),
        await predictProbabilities(trained, examples),
      );
    } finally {
      disposeModel(loaded.model);
    }
  });

  void it('names the URI when a bundle is missing or corrupt', async () => {
    const missing = path.join(dir, 'nothing-here');
    await assert.rejects(loadModelBundle(missing), (err: Error) => {
      assert.ok(err instanceof ModelBundleError);
      assert.match(err.message, /nothing-here.*model\.json is missing/);
      return true;
    });
    const corrupt = path.join(dir, 'corrupt');
    await saveModelBundle(trained, corrupt);
    await fs.writeFile(path.join(corrupt, 'model.json'), '{"modelTopology": ');
    await assert.rejects(loadModelBundle(corrupt), /corrupt: model\.json is not valid JSON/);
    await saveModelBundle(trained, corrupt);
    await fs.writeFile(path.join(corrupt, 'weights.bin'), Buffer.alloc(10));
    await assert.rejects(loadModelBundle(corrupt), /corrupt: cannot rebuild the model/);
  });

  void it('maps unknown categories to the out-of-vocabulary index without throwing', async () => {
    const stranger = { ...examples[0]!, advertiser: 'never-seen', device: 'smart-fridge' };
    const encoded = encodeBatch(trained.preprocessing, [stranger]);
    assert.equal(encoded.categorical[0]![0], OOV_INDEX);
    assert.equal(encoded.categorical[3]![0], OOV_INDEX);
    const [p] = await predictProbabilities(trained, [stranger]);
    assert.ok(p! > 0 && p! < 1);
  });

  void it('rejects an image of the wrong size with a reason', async () => {
    const wrong = { ...examples[0]!, pixels: new Uint8Array(12) };
    await assert.rejects(predictProbabilities(trained, [wrong]), /12 bytes, expected 192/);
  });

  void it('gives the same predictions for the same seed', async () => {
    const config = { ...CONFIG, epochs: 2 };
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const { bundle } = await trainModel({
        examples,
        featureSpec: ADS_FEATURE_SPEC,
        imageSize: IMAGE_SIZE,
        config,
      });
      runs.push(await predictProbabilities(bundle, examples));
      disposeModel(bundle.model);
    }
    assert.deepEqual(runs[0], runs[1]);
  });

  void it('stops promptly with an AbortError when the signal aborts', async () => {
    const controller = new AbortController();
    let batches = 0;
    const before = tf.memory().numTensors;
    await assert.rejects(
      trainModel({
        examples,
        featureSpec: ADS_FEATURE_SPEC,
        imageSize: IMAGE_SIZE,
        config: CONFIG,
        signal: controller.signal,
        onProgress: () => {
          batches++;
          if (batches === 2) controller.abort();
        },
      }),
      (err: Error) => err.name === 'AbortError' && /epoch 1/.test(err.message),
    );
    assert.equal(batches, 2);
    assert.equal(tf.memory().numTensors, before, 'an aborted run leaks no tensors');
  });

  void it('resumes from a checkpoint at the next epoch with its preprocessing', async () => {
    const epochs: number[] = [];
    const checkpoint = await loadModelBundle(path.join(dir, 'bundle'));
    const { bundle, lossHistory: resumed } = await trainModel({
      examples: examples.slice(0, 32),
      imageSize: IMAGE_SIZE,
      config: { ...CONFIG, epochs: 8 },
      resumeFrom: { bundle: checkpoint, epochsDone: 6 },
      onEpochEnd: ({ epoch }) => {
        epochs.push(epoch);
        return Promise.resolve();
      },
    });
    assert.deepEqual(epochs, [7, 8]);
    assert.equal(resumed.length, 2);
    assert.equal(bundle.preprocessing, checkpoint.preprocessing);
    disposeModel(bundle.model);
  });

  void it('builds a model whose weights depend only on the seed', () => {
    const preprocessing = fitPreprocessing(examples, IMAGE_SIZE, ADS_FEATURE_SPEC);
    const weights = [7, 7, 8].map((seed) => {
      const model = createModel({ ...CONFIG, seed }, preprocessing);
      const values = model.getWeights().map((w) => Array.from(w.dataSync()));
      disposeModel(model);
      return values;
    });
    assert.deepEqual(weights[0], weights[1]);
    assert.notDeepEqual(weights[0], weights[2]);
  });
});
