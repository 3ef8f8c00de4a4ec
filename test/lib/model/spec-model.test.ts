import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { featureSpecSchema, FEATURE_SPEC_FORMAT, type FeatureSpec } from '../../../contracts/feature-spec';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import { createRandom } from '../../../lib/dataset/random';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import {
  createModel,
  disposeModel,
  encodeBatch,
  fitPreprocessing,
  loadModelBundle,
  OOV_INDEX,
  predictProbabilities,
  saveModelBundle,
  trainModel,
  type ModelBundle,
} from '../../../lib/model';
import { computeAuc } from '../../../lib/model/metrics';
import { hashedNgrams, inputLayout, tokenize, type FittedText } from '../../../lib/model/preprocessing';
import { makeExamples } from './fixtures';

/** A spec unlike the ads: no image, a hashed id-like column, a log-scaled numeric with blanks, free text. */
const REVIEW_SPEC: FeatureSpec = featureSpecSchema.parse({
  format: FEATURE_SPEC_FORMAT,
  csv: { columns: ['review id', 'review text', 'price', 'city', 'device hash', 'Would Recommend'] },
  label: { column: 'Would Recommend', positive: 'yes', negative: 'no' },
  id: 'review id',
  features: [
    { column: 'review text', kind: 'text', ngrams: 2, buckets: 256, maxTokens: 8 },
    { column: 'price', kind: 'numeric', normalize: 'log', missingIndicator: true },
    { column: 'city', kind: 'categorical' },
    { column: 'device hash', kind: 'categorical', encoding: 'hash', buckets: 64 },
  ],
  slices: ['city'],
  output: 'recommend_probability',
});

interface Review {
  'review id': string;
  'review text': string;
  price: number | null;
  city: string;
  'device hash': string;
  label: number;
}

const GOOD = ['great', 'friendly', 'clean', 'fresh'];
const BAD = ['awful', 'rude', 'dirty', 'stale'];

/** Reviews whose label follows their words, so a text tower has something to learn. */
function makeReviews(count: number, seed: number): Review[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const label = random() < 0.5 ? 1 : 0;
    const words = Array.from({ length: 3 + Math.floor(random() * 4) }, () => {
      const pool = random() < 0.8 ? (label ? GOOD : BAD) : label ? BAD : GOOD;
      return pool[Math.floor(random() * pool.length)]!;
    });
    return {
      'review id': `R-${i}`,
      'review text': `The ${words.join(', ')} place!`,
      price: i % 7 === 0 ? null : Math.round(random() * 2000) / 10,
      city: ['Oslo', 'Lima', 'Pune'][i % 3]!,
      'device hash': Math.floor(random() * 1e9).toString(16),
      label,
    };
  });
}

/** Rows as reviews, so object literals are checked against the review's columns. */
const reviewRows = (...rows: Review[]): Review[] => rows;

const CONFIG = pipelineConfigSchema.parse({
  train: { epochs: 12, batchSize: 16, learningRate: 0.03, seed: 3, conv: { filters: [4], denseUnits: 8 } },
}).train;

void describe('preprocessing per feature kind', () => {
  const reviews = makeReviews(40, 1);
  const preprocessing = fitPreprocessing(reviews, 8, REVIEW_SPEC);

  void it('lays out inputs from the spec: no image tower without an image column', () => {
    const layout = inputLayout(preprocessing);
    assert.equal(layout.image, undefined);
    assert.equal(layout.imageBytes, 0);
    assert.deepEqual(layout.names, ['cat_city', 'cat_device_hash', 'numeric', 'text_review_text']);
    assert.equal(layout.numericWidth, 2, 'price and its missing indicator');
  });

  void it('categorical: a sorted vocabulary with 0 for unseen and missing; hashed buckets without one', () => {
    const city = preprocessing.features.find((feature) => feature.column === 'city');
    assert.deepEqual(city, { column: 'city', kind: 'categorical', vocabulary: ['Lima', 'Oslo', 'Pune'] });
    const encoded = encodeBatch(
      preprocessing,
      reviewRows(
        { ...reviews[0]!, city: 'Pune', 'device hash': 'abc' },
        { ...reviews[0]!, city: 'Quito', 'device hash': 'abc' },
        { ...reviews[0]!, city: '', 'device hash': ' abc ' },
      ),
    );
    assert.deepEqual([...encoded.categorical[0]!], [3, OOV_INDEX, OOV_INDEX]);
    const [a, b, c] = encoded.categorical[1]!;
    assert.ok(a! >= 1 && a! <= 64, `bucket ${a}`);
    assert.equal(a, b, 'a value always hashes to the same bucket');
    assert.equal(a, c, 'after trimming, as in training');
  });

  void it('numeric: log then z-score on the training values, blanks read as the mean with the indicator set', () => {
    const price = preprocessing.features.find((feature) => feature.column === 'price');
    assert.ok(price?.kind === 'numeric');
    const logs = reviews.filter((r) => r.price !== null).map((r) => Math.log1p(r.price!));
    const mean = logs.reduce((sum, value) => sum + value, 0) / logs.length;
    assert.ok(Math.abs(price.mean - mean) < 1e-9);
    const encoded = encodeBatch(
      preprocessing,
      reviewRows(
        { ...reviews[0]!, price: 100 },
        { ...reviews[0]!, price: null },
        { ...reviews[0]!, price: '' as unknown as number },
      ),
    );
    assert.ok(Math.abs(encoded.numeric[0]! - (Math.log1p(100) - price.mean) / price.std) < 1e-5);
    assert.deepEqual([...encoded.numeric.subarray(1, 6)], [0, 0, 1, 0, 1]);
    assert.throws(
      () =>
        encodeBatch(
          fitPreprocessing(makeExamples(4, 1, 4), 4, ADS_FEATURE_SPEC),
          makeExamples(1, 2, 4).map((example) => ({ ...example, hour: Number.NaN })),
        ),
      /example 0: hour must be a finite number, got NaN/,
      'without a missing indicator a blank number is an error, as before',
    );
  });

  void it('text: lower-cased words, unigrams then bigrams hashed into 1..buckets, padded with 0', () => {
    assert.deepEqual(tokenize('The GREAT, friendly place!'), ['the', 'great', 'friendly', 'place']);
    const text = preprocessing.features.find((feature) => feature.column === 'review text') as FittedText;
    const grams = hashedNgrams('great friendly place', text);
    assert.equal(grams.length, 3 + 2);
    assert.ok(grams.every((index) => index >= 1 && index <= 256));
    assert.deepEqual(hashedNgrams('Great FRIENDLY place', text), grams, 'case does not matter');
    const encoded = encodeBatch(
      preprocessing,
      reviewRows({ ...reviews[0]!, 'review text': 'great friendly place' }),
    );
    assert.equal(encoded.text[0]!.length, 16, 'maxTokens × ngrams slots');
    assert.deepEqual([...encoded.text[0]!], [...grams, ...Array.from({ length: 11 }, () => 0)]);
  });
});

void describe('a model built from a spec without images', () => {
  const train = makeReviews(240, 2);
  const test = makeReviews(120, 3);
  let dir: string;
  let trained: ModelBundle;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-spec-model-'));
    // As shards hold it: the label as 0/1 under the spec's label column.
    const labelled = train.map((review) => ({ ...review, 'Would Recommend': review.label }));
    ({ bundle: trained } = await trainModel({
      examples: labelled,
      featureSpec: REVIEW_SPEC,
      imageSize: 8,
      config: CONFIG,
    }));
  });
  after(async () => {
    disposeModel(trained.model);
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('has no conv layer, one input per kind, and the spec output name', () => {
    const names = trained.model.layers.map((layer) => layer.name);
    assert.ok(!names.some((name) => name.startsWith('conv_')), names.join(', '));
    assert.deepEqual(
      trained.model.inputs.map((input) => input.name.replace(/:\d+$/, '')),
      ['cat_city', 'cat_device_hash', 'numeric', 'text_review_text'],
    );
    assert.equal(trained.model.outputs[0]!.name.split('/')[0], 'recommend_probability');
  });

  void it('learns the label from the text (held-out AUC > 0.8)', async () => {
    const scores = await predictProbabilities(trained, test);
    const auc = computeAuc(
      Float64Array.from(test, (review) => review.label),
      scores,
    );
    assert.ok(auc > 0.8, `AUC ${auc}`);
  });

  void it('predicts the same after save and load, the spec saved with it', async () => {
    const uri = path.join(dir, 'bundle');
    await saveModelBundle(trained, uri);
    const saved = JSON.parse(await fs.readFile(path.join(uri, 'preprocessing.json'), 'utf8')) as {
      version: number;
      spec: FeatureSpec;
    };
    assert.equal(saved.version, 2);
    assert.deepEqual(saved.spec, REVIEW_SPEC);
    const loaded = await loadModelBundle(uri);
    try {
      assert.deepEqual(await predictProbabilities(loaded, test), await predictProbabilities(trained, test));
    } finally {
      disposeModel(loaded.model);
    }
  });
});

void describe('preprocessing.json of version 1 (the ads, before feature specs)', () => {
  void it('loads as the ads spec and predicts exactly as the same model with version 2', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-preprocessing-v1-'));
    const examples = makeExamples(24, 4, 8);
    const preprocessing = fitPreprocessing(examples, 8, ADS_FEATURE_SPEC);
    const model = createModel(CONFIG, preprocessing);
    try {
      const uri = path.join(dir, 'bundle');
      await saveModelBundle({ model, preprocessing }, uri);
      const v1 = {
        version: 1,
        imageSize: 8,
        vocabularies: Object.fromEntries(
          preprocessing.features.flatMap((feature) =>
            feature.kind === 'categorical' ? [[feature.column, feature.vocabulary]] : [],
          ),
        ),
        numeric: Object.fromEntries(
          preprocessing.features.flatMap((feature) =>
            feature.kind === 'numeric' ? [[feature.column, { mean: feature.mean, std: feature.std }]] : [],
          ),
        ),
      };
      await fs.writeFile(path.join(uri, 'preprocessing.json'), JSON.stringify(v1));
      const loaded = await loadModelBundle(uri);
      try {
        assert.deepEqual(loaded.preprocessing, preprocessing);
        assert.deepEqual(
          await predictProbabilities(loaded, examples),
          await predictProbabilities({ model, preprocessing }, examples),
        );
      } finally {
        disposeModel(loaded.model);
      }
      await fs.writeFile(path.join(uri, 'preprocessing.json'), JSON.stringify({ ...v1, version: 7 }));
      await assert.rejects(
        loadModelBundle(uri),
        /preprocessing\.json is not a preprocessing definition: version 7 is not one this build reads/,
      );
    } finally {
      disposeModel(model);
      tf.disposeVariables();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
