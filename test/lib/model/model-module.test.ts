import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FEATURE_SPEC_FORMAT, featureSpecSchema, type FeatureSpec } from '../../../contracts/feature-spec';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import {
  disposeModel,
  loadModelBundle,
  predictProbabilities,
  saveModelBundle,
  trainModel,
} from '../../../lib/model';
import { ModelModuleError } from '../../../lib/model/model-module';
import { makeExamples } from './fixtures';

const EXAMPLE_MODULE = path.resolve(__dirname, '..', '..', '..', 'docs', 'examples', 'wide-and-deep.ts');
const IMAGE_SIZE = 8;

// Small specs, so the bad modules stay a few lines: one numeric input, or a categorical and a numeric.
const NUMERIC_SPEC = featureSpecSchema.parse({
  format: FEATURE_SPEC_FORMAT,
  label: { column: 'clicked', positive: '1', negative: '0' },
  features: [{ column: 'hour', kind: 'numeric' }],
});
const TWO_INPUT_SPEC = featureSpecSchema.parse({
  ...NUMERIC_SPEC,
  features: [{ column: 'advertiser', kind: 'categorical' }, ...NUMERIC_SPEC.features],
});

const configWith = (modelModule: string) =>
  pipelineConfigSchema.parse({
    train: { epochs: 2, batchSize: 16, seed: 5, conv: { filters: [2], denseUnits: 4 }, modelModule },
  }).train;

describe('train.modelModule', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-model-module-'));
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it("trains the documented wide-and-deep example, and the saved model predicts without the module's code", async () => {
    const examples = makeExamples(64, 11, IMAGE_SIZE);
    const { bundle, lossHistory } = await trainModel({
      examples,
      featureSpec: ADS_FEATURE_SPEC,
      imageSize: IMAGE_SIZE,
      config: configWith(EXAMPLE_MODULE),
    });
    assert.equal(lossHistory.length, 2);
    assert.ok(lossHistory.every(Number.isFinite));
    const layers = bundle.model.layers.map((layer) => layer.name);
    assert.ok(layers.includes('wide_logit') && layers.includes('deep_logit'), layers.join(', '));
    const modelUri = path.join(dir, 'wide-and-deep');
    await saveModelBundle(bundle, modelUri);
    // Loading reads model.json and weights only: standard layers rebuild without createModel.
    const loaded = await loadModelBundle(modelUri);
    const before = await predictProbabilities(bundle, examples.slice(0, 8));
    const after = await predictProbabilities(loaded, examples.slice(0, 8));
    assert.deepEqual(Array.from(after), Array.from(before));
    assert.equal(loaded.model.name, 'wide_and_deep');
    disposeModel(bundle.model);
    disposeModel(loaded.model);
  });

  const cases: Array<{ name: string; file: string; source: string; reason: RegExp; spec?: FeatureSpec }> = [
    {
      name: 'no createModel export',
      file: 'none.ts',
      source: 'export const other = 1;\n',
      reason: /exports no createModel\(inputs, spec, config\) function/,
    },
    {
      name: 'a syntax error',
      file: 'broken.ts',
      source: 'export function createModel( {\n',
      reason: /failed to load/,
    },
    {
      name: 'code that throws',
      file: 'throws.ts',
      source: "export function createModel() { throw new Error('no GPU here'); }\n",
      reason: /createModel of .*throws\.ts threw: no GPU here/,
    },
    {
      name: 'not a model',
      file: 'not-a-model.ts',
      source: 'export function createModel() { return {}; }\n',
      reason: /must return a tf\.LayersModel/,
    },
    {
      name: 'only some inputs',
      file: 'some-inputs.ts',
      source: [
        "import type * as TF from '@tensorflow/tfjs';",
        'export function createModel(inputs: any, _spec: unknown, _config: unknown, { tf }: { tf: typeof TF }) {',
        '  const x = inputs.numeric;',
        "  const y = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(x);",
        '  return tf.model({ inputs: [x], outputs: y });',
        '}',
        '',
      ].join('\n'),
      reason:
        /must take exactly inputs\.all \(cat_advertiser, numeric\) in that order; its model takes numeric/,
      spec: TWO_INPUT_SPEC,
    },
    {
      name: 'two outputs per row',
      file: 'wide-output.ts',
      source: [
        "import type * as TF from '@tensorflow/tfjs';",
        'export function createModel(inputs: any, _spec: unknown, _config: unknown, { tf }: { tf: typeof TF }) {',
        "  const y = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(inputs.numeric);",
        '  return tf.model({ inputs: inputs.all, outputs: y as any });',
        '}',
        '',
      ].join('\n'),
      reason: /must have one output of shape \[null,1\].*it has \[null,2\]/,
    },
    {
      name: 'a custom layer',
      file: 'custom-layer.ts',
      source: [
        "import type * as TF from '@tensorflow/tfjs';",
        'export function createModel(inputs: any, _spec: unknown, _config: unknown, { tf }: { tf: typeof TF }) {',
        '  class Doubler extends tf.layers.Layer {',
        "    static className = 'Doubler';",
        '    call(x: any) { return tf.mul(Array.isArray(x) ? x[0] : x, 2); }',
        '  }',
        '  tf.serialization.registerClass(Doubler);',
        "  const doubled = new Doubler({ name: 'doubler' }).apply(inputs.numeric);",
        "  const y = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(doubled);",
        '  return tf.model({ inputs: inputs.all, outputs: y as any });',
        '}',
        '',
      ].join('\n'),
      reason: /uses layers the server cannot rebuild without your code \(doubler: Doubler\)/,
    },
  ];
  for (const testCase of cases) {
    it(`refuses ${testCase.name} with a ModelModuleError saying why`, async () => {
      const file = path.join(dir, testCase.file);
      await fs.writeFile(file, testCase.source);
      await assert.rejects(
        trainModel({
          examples: makeExamples(16, 3, IMAGE_SIZE),
          featureSpec: testCase.spec ?? NUMERIC_SPEC,
          imageSize: IMAGE_SIZE,
          config: configWith(file),
        }),
        (err: Error) => {
          assert.ok(err instanceof ModelModuleError, `${err.name}: ${err.message}`);
          assert.match(err.message, testCase.reason);
          return true;
        },
      );
    });
  }

  it('takes `export default function createModel` as well as a named export', async () => {
    const file = path.join(dir, 'default-export.ts');
    await fs.writeFile(
      file,
      [
        "import type * as TF from '@tensorflow/tfjs';",
        'export default function createModel(inputs: any, _spec: unknown, _config: unknown, { tf }: { tf: typeof TF }) {',
        "  const y = tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'only_dense' }).apply(inputs.numeric);",
        '  return tf.model({ inputs: inputs.all, outputs: y as any });',
        '}',
        '',
      ].join('\n'),
    );
    const { bundle } = await trainModel({
      examples: makeExamples(16, 3, IMAGE_SIZE),
      featureSpec: NUMERIC_SPEC,
      imageSize: IMAGE_SIZE,
      config: configWith(file),
    });
    assert.ok(bundle.model.layers.some((layer) => layer.name === 'only_dense'));
    disposeModel(bundle.model);
  });

  it('refuses a module file that does not exist', async () => {
    await assert.rejects(
      trainModel({
        examples: makeExamples(16, 3, IMAGE_SIZE),
        featureSpec: ADS_FEATURE_SPEC,
        imageSize: IMAGE_SIZE,
        config: configWith(path.join(dir, 'nope.ts')),
      }),
      /train\.modelModule .*nope\.ts cannot be read/,
    );
  });
});
