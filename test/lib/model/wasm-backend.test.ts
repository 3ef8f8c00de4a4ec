/**
 * The WebAssembly backend the prediction server prefers: it must give the CPU backend's predictions
 * (within 1e-5) on every kind of model this project builds. Each model is created and saved on the
 * CPU backend, then loaded and run on each backend in turn (one TF.js core, two backends).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
// Registers the 'wasm' backend, as loadTfBackend does for a prediction server.
import '@tensorflow/tfjs-backend-wasm';
import { featureSpecSchema, FEATURE_SPEC_FORMAT, type FeatureSpec } from '../../../contracts/feature-spec';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import { createRandom } from '../../../lib/dataset/random';
import {
  createModel,
  fitPreprocessing,
  loadModelBundle,
  loadTfBackend,
  predictProbabilities,
  saveModelBundle,
  type ModelInput,
} from '../../../lib/model';

const IMAGE_SIZE = 12;

const REVIEWS: FeatureSpec = featureSpecSchema.parse({
  format: FEATURE_SPEC_FORMAT,
  label: { column: 'liked', positive: '1' },
  features: [
    { column: 'city', kind: 'categorical' },
    { column: 'browser', kind: 'categorical', encoding: 'hash', buckets: 64 },
    { column: 'price', kind: 'numeric', missingIndicator: true },
    { column: 'stars', kind: 'numeric', normalize: 'log' },
    { column: 'review', kind: 'text' },
  ],
});

function examplesOf(spec: FeatureSpec, rows: number): ModelInput[] {
  const random = createRandom(5);
  const words = ['great', 'slow', 'cheap', 'awful', 'fine', 'lovely', 'broken'];
  return Array.from({ length: rows }, (_, i) => {
    const example: Record<string, unknown> = { [spec.label.column]: i % 2 };
    for (const feature of spec.features) {
      if (feature.kind === 'categorical') example[feature.column] = `v${Math.floor(random() * 6)}`;
      else if (feature.kind === 'numeric') {
        const missing = feature.missingIndicator === true && i % 7 === 0;
        example[feature.column] = missing ? null : Math.round(random() * 230) / 10;
      } else if (feature.kind === 'text') {
        example[feature.column] = Array.from(
          { length: 1 + (i % 6) },
          () => words[Math.floor(random() * words.length)],
        ).join(' ');
      } else if (feature.kind === 'image') {
        example.pixels = Uint8Array.from({ length: IMAGE_SIZE * IMAGE_SIZE * 3 }, () =>
          Math.floor(random() * 256),
        );
      }
    }
    return example;
  });
}

describe('the WebAssembly backend', () => {
  let work: string;
  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-wasm-'));
  });
  after(() => fs.rm(work, { recursive: true, force: true }));

  it('predicts what the CPU backend predicts, within 1e-5, for image, tabular and text models', async () => {
    const train = pipelineConfigSchema.parse({
      train: { conv: { filters: [4, 8], denseUnits: 8 }, embeddingDim: 4 },
    }).train;
    for (const [name, spec] of [
      ['ads (conv image tower)', ADS_FEATURE_SPEC],
      ['reviews (vocabulary, hashed, numeric, text)', REVIEWS],
    ] as const) {
      await tf.setBackend('cpu');
      const examples = examplesOf(spec, 48);
      const preprocessing = fitPreprocessing(examples, IMAGE_SIZE, spec);
      const uri = path.join(work, name.split(' ')[0]!);
      const model = createModel({ ...train, seed: 3 }, preprocessing);
      await saveModelBundle({ model, preprocessing }, uri);
      model.dispose();

      const predictions: Record<string, Float32Array> = {};
      for (const backend of ['cpu', 'wasm']) {
        await tf.setBackend(backend);
        const bundle = await loadModelBundle(uri);
        predictions[backend] = await predictProbabilities(bundle, examples);
        bundle.model.dispose();
      }
      const { cpu, wasm } = predictions as { cpu: Float32Array; wasm: Float32Array };
      assert.equal(wasm.length, examples.length, name);
      const spread = Math.max(...cpu) - Math.min(...cpu);
      assert.ok(
        spread > 1e-4,
        `${name}: the model's predictions should differ between rows (spread ${spread})`,
      );
      const worst = Math.max(...Array.from(cpu, (value, i) => Math.abs(value - wasm[i]!)));
      assert.ok(worst <= 1e-5, `${name}: wasm differs from cpu by up to ${worst}`);
    }
  });

  it('is what a prediction server loads when nothing faster is installed', async () => {
    const loaded = await loadTfBackend(undefined, { inference: true });
    assert.equal(loaded.package, 'wasm');
    assert.equal(loaded.tf.getBackend(), 'wasm');
    assert.match(loaded.device, /^CPU \(TF\.js WebAssembly/);
    assert.ok(loaded.skipped.some((reason) => /tfjs-node-gpu/.test(reason)));
  });
});
