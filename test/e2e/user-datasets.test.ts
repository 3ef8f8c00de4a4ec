/**
 * A user's own data, start to finish, on a real dev server and as a user would do it: `mlops data
 * describe` writes the spec, `mlops pipeline start --features` trains on it, `mlops pipeline
 * approve` deploys it, and the prediction API answers instances with the dataset's own column
 * names, validated by that spec. Three datasets unlike the ads and unlike each other: real click
 * data (all categorical, 20-digit ids), real census data (no header, padded cells, '?' blanks,
 * mixed kinds, a label " 50000+."), and reviews (semicolons, free text, blanks, JPEG photos of
 * mixed sizes, a label column with spaces).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { parseFeatureSpec, type FeatureSpec } from '../../contracts/feature-spec';
import type { PipelineResult } from '../../contracts/temporal';
import { ModelRegistry } from '../../lib/registry';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import { waitForStage } from '../../scripts/clients/pipeline-client';
import type { ModelMetadataResponse } from '../../serving/routes/model-metadata';
import { mlops } from '../helpers/mlops-cli';
import {
  CENSUS_COLUMNS,
  copySharedDataset,
  makeReviewDataset,
  type TempDataset,
} from '../helpers/other-datasets';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_GPU_QUEUE,
  TINY_PIPELINE_CONFIG,
  type PipelineEnv,
} from '../helpers/pipeline-env';

const EXAMPLE_MODULE = path.resolve(__dirname, '..', '..', 'docs', 'examples', 'wide-and-deep.ts');

interface UserDataset {
  model: string;
  make: () => Promise<TempDataset>;
  /** `mlops data describe` options beyond --data and --out. */
  describeArgs: string[];
  /** What the written spec must say, checked before training on it. */
  expect: (spec: FeatureSpec) => void;
  /** Trains with the worked `train.modelModule` (docs/examples/wide-and-deep.ts) beside its config. */
  modelModule?: boolean;
}

const DATASETS: UserDataset[] = [
  {
    model: 'avazu',
    make: () => copySharedDataset('avazu-sample/train.csv'),
    describeArgs: [],
    expect: (spec) => {
      assert.equal(spec.id, 'id');
      assert.equal(spec.label.column, 'click');
      assert.ok(spec.features.every((feature) => feature.kind !== 'image'));
    },
  },
  {
    model: 'census',
    make: () => copySharedDataset('census-income-sample/census-income.csv'),
    describeArgs: ['--columns', CENSUS_COLUMNS.join(','), '--label', 'income_50k'],
    modelModule: true,
    expect: (spec) => {
      assert.equal(spec.csv.header, false);
      assert.equal(spec.label.positive, '50000+.');
      assert.ok(spec.features.some((feature) => feature.kind === 'numeric'));
      assert.ok(spec.features.some((feature) => feature.kind === 'categorical'));
    },
  },
  {
    model: 'reviews',
    make: () => makeReviewDataset({ rows: 80 }),
    describeArgs: [],
    expect: (spec) => {
      assert.equal(spec.csv.delimiter, ';');
      assert.equal(spec.label.column, 'Would Recommend');
      assert.equal(spec.features.find((feature) => feature.column === 'photo')?.kind, 'image');
      assert.equal(spec.features.find((feature) => feature.column === 'review text')?.kind, 'text');
    },
  },
];

describe(
  'your own data: describe → pipeline start --features → approve → predict',
  { timeout: 900_000 },
  () => {
    let env: PipelineEnv;
    let cliEnv: Record<string, string>;
    let configFile: string;

    before(async () => {
      env = await startPipelineEnv({ models: DATASETS.map((dataset) => dataset.model) });
      cliEnv = {
        TEMPORAL_ADDRESS: env.devServer.address,
        TEMPORAL_NAMESPACE: env.devServer.namespace,
        MLOPS_CONTROL_QUEUE: TEST_CONTROL_QUEUE,
        MLOPS_STORE: env.storeUri,
      };
      configFile = path.join(env.storeUri, 'tiny-config.json');
      await fs.writeFile(configFile, JSON.stringify(TINY_PIPELINE_CONFIG));
    });
    after(() => env?.close());

    for (const dataset of DATASETS) {
      it(`${dataset.model}: trained on its own spec, served by its own column names`, async () => {
        await using data = await dataset.make();
        const described = await mlops(
          ['data', 'describe', '--data', data.csv, '--out', 'spec.json', ...dataset.describeArgs],
          data.dir,
        );
        assert.equal(described.code, 0, described.stderr);
        const specFile = path.join(data.dir, 'spec.json');
        const spec = parseFeatureSpec(await fs.readFile(specFile, 'utf8'), specFile);
        dataset.expect(spec);

        let config = configFile;
        if (dataset.modelModule) {
          // The user's own model code, named relative to their config file.
          await fs.copyFile(EXAMPLE_MODULE, path.join(data.dir, 'wide-and-deep.ts'));
          config = path.join(data.dir, 'config.json');
          const train = { ...TINY_PIPELINE_CONFIG.train, modelModule: 'wide-and-deep.ts' };
          await fs.writeFile(config, JSON.stringify({ ...TINY_PIPELINE_CONFIG, train }));
        }
        const workflowId = `user-data-${dataset.model}`;
        const started = await mlops(
          [
            'pipeline',
            'start',
            '--model',
            dataset.model,
            '--data',
            data.dir,
            '--features',
            'spec.json',
            '--config',
            config,
            '--id',
            workflowId,
          ],
          data.dir,
          cliEnv,
        );
        assert.equal(started.code, 0, started.stderr);
        assert.match(started.stdout, /^Features: spec\.json \(stored as .*feature-specs.*\.json\)$/m);

        const waiting = await waitForStage(env.client, workflowId, ['awaiting-approval'], {
          timeoutMs: 300_000,
        });
        assert.equal(waiting.candidateVersion, '1');
        assert.match(waiting.features?.source ?? '', /^given/);
        const approved = await mlops(['pipeline', 'approve', workflowId, '--by', 'tester'], data.dir, cliEnv);
        assert.equal(approved.code, 0, approved.stderr);
        const result = (await env.client.workflow.getHandle(workflowId).result()) as PipelineResult;
        assert.equal(result.outcome, 'production');
        if (dataset.modelModule) {
          const production = await new ModelRegistry(env.storeUri).getProduction(dataset.model);
          const topology = await fs.readFile(path.join(production!.modelUri, 'model.json'), 'utf8');
          assert.match(topology, /"wide_logit"/, 'trained by the module, served without it');
        }

        // The served signature is the spec's: every model column, and the output by its name.
        const served = await waitForServed(env.servingUrl, dataset.model);
        const signature = served.metadata.signature_def.signature_def.serving_default;
        const modelColumns = spec.features
          .filter((feature) => feature.kind !== 'ignored')
          .map((feature) => feature.column);
        assert.deepEqual(Object.keys(signature?.inputs ?? {}).sort(), [...modelColumns].sort());
        assert.deepEqual(Object.keys(signature?.outputs ?? {}), [spec.output]);

        // Rows of the user's own file, by their own column names (images inline as {"b64"}).
        const samples = await loadTrafficSamples(data.csv, 5, spec);
        const predictUrl = `${env.servingUrl}/v1/models/${dataset.model}:predict`;
        const answer = await postJson(predictUrl, { instances: samples.map((sample) => sample.instance) });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const predictions = (answer.body as { predictions: Array<Record<string, unknown>> }).predictions;
        assert.equal(predictions.length, samples.length);
        for (const prediction of predictions) {
          const p = prediction[spec.output];
          assert.ok(typeof p === 'number' && p > 0 && p < 1, `${spec.output} ${String(p)} in (0, 1)`);
        }

        // The same through the CLI, which reads the rows by the spec and prints the output by its name.
        const cli = await mlops(
          ['predict', '--model', dataset.model, '--data', data.csv, '--features', 'spec.json', '--rows', '3'],
          data.dir,
          { MLOPS_SERVING_URL: env.servingUrl },
        );
        assert.equal(cli.code, 0, cli.stderr);
        assert.match(cli.stdout, new RegExp(`^${dataset.model} v1: 3 predictions$`, 'm'));
        const header = cli.stdout
          .split('\n')[1]!
          .trim()
          .split(/\s{2,}/);
        assert.deepEqual(header, [spec.id ?? 'row', spec.output, 'prediction_id']);

        // A column the spec names, left out: a 400 that names it.
        const dropped = modelColumns[0]!;
        const { [dropped]: _omitted, ...incomplete } = samples[0]!.instance;
        const refused = await postJson(predictUrl, { instances: [incomplete] });
        assert.equal(refused.status, 400);
        assert.ok(
          JSON.stringify(refused.body).includes(`is missing \\"${dropped}\\"`),
          JSON.stringify(refused.body),
        );
      });
    }

    it('a second avazu version with one column left out of the model shows the reviewer the spec change', async () => {
      await using data = await copySharedDataset('avazu-sample/train.csv');
      const described = await mlops(['data', 'describe', '--data', data.csv, '--out', 'spec.json'], data.dir);
      assert.equal(described.code, 0, described.stderr);
      // The user edits one line: a categorical column becomes "ignored".
      const specFile = path.join(data.dir, 'spec.json');
      const spec = JSON.parse(await fs.readFile(specFile, 'utf8')) as {
        features: Array<{ column: string; kind: string }>;
        slices: string[];
      };
      // Not one evaluation slices by: the spec would refuse slicing by an ignored column.
      const edited = spec.features.find(
        (feature) => feature.kind === 'categorical' && !spec.slices.includes(feature.column),
      )!;
      spec.features = spec.features.map((feature) =>
        feature === edited ? { column: edited.column, kind: 'ignored' } : feature,
      );
      await fs.writeFile(specFile, JSON.stringify(spec, null, 2));

      const workflowId = 'user-data-avazu-v2';
      const args = ['pipeline', 'start', '--model', 'avazu', '--data', data.dir, '--features', 'spec.json'];
      const started = await mlops([...args, '--config', configFile, '--id', workflowId], data.dir, cliEnv);
      assert.equal(started.code, 0, started.stderr);
      const waiting = await waitForStage(env.client, workflowId, ['awaiting-approval'], {
        timeoutMs: 300_000,
      });
      assert.deepEqual(waiting.featureSpecComparison, {
        productionVersion: '1',
        changes: [{ subject: edited.column, change: 'retyped', detail: 'categorical → ignored' }],
      });

      // The Web UI's details (the workflow's current details) and `mlops pipeline status` both say so.
      const metadata = await env.client.workflow
        .getHandle(workflowId)
        .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(metadata.currentDetails ?? '', /\*\*Feature spec vs production v1: 1 change\*\*/);
      const status = await mlops(['pipeline', 'status', workflowId], data.dir, cliEnv);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^ {2}spec: +1 change\(s\) from production v1's:$/m);
      assert.ok(status.stdout.includes(`retyped ${edited.column}: categorical → ignored`), status.stdout);

      const rejected = await mlops(
        ['pipeline', 'reject', workflowId, '--by', 'tester', '--reason', 'keep the column'],
        data.dir,
        cliEnv,
      );
      assert.equal(rejected.code, 0, rejected.stderr);
      const result = (await env.client.workflow.getHandle(workflowId).result()) as PipelineResult;
      assert.equal(result.outcome, 'rejected');
    });

    it('batch-predicts avazu rows that have no click column, each by its id', async () => {
      await using data = await copySharedDataset('avazu-sample/train.csv');
      const rows = parse<Record<string, string>>(await fs.readFile(data.csv), { columns: true });
      const unlabelled = path.join(data.dir, 'to-score.csv');
      await fs.writeFile(
        unlabelled,
        stringify(
          rows.map(({ click: _click, ...row }) => row),
          { header: true },
        ),
      );
      const run = await mlops(
        ['batch-predict', '--model', 'avazu', '--data', unlabelled, '--shard-rows', '40', '--wait'],
        data.dir,
        { ...cliEnv, MLOPS_GPU_QUEUE: TEST_GPU_QUEUE },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^avazu v1: ${rows.length} predictions in 3 shards`, 'm'));
      // The same rows through `mlops predict`: rows to score need no label column.
      const described = await mlops(['data', 'describe', '--data', data.csv, '--out', 'spec.json'], data.dir);
      assert.equal(described.code, 0, described.stderr);
      const predicted = await mlops(
        ['predict', '--model', 'avazu', '--data', unlabelled, '--features', 'spec.json', '--rows', '2'],
        data.dir,
        { MLOPS_SERVING_URL: env.servingUrl },
      );
      assert.equal(predicted.code, 0, predicted.stderr);
      assert.match(predicted.stdout, /^avazu v1: 2 predictions$/m);

      const outputUri = /^Predictions: (.+)$/m.exec(run.stdout)![1]!;
      const files = (await fs.readdir(outputUri)).filter((name) => name.endsWith('.jsonl'));
      const lines = (await Promise.all(files.map((name) => fs.readFile(path.join(outputUri, name), 'utf8'))))
        .join('')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { id: string; probability: number; model_version: string });
      assert.deepEqual(lines.map((line) => line.id).sort(), rows.map((row) => row.id!).sort());
      for (const line of lines) {
        assert.ok(line.probability > 0 && line.probability < 1);
        assert.equal(line.model_version, '1');
      }
    });
  },
);

async function postJson(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The model's metadata once the server has loaded its first version (it polls the store). */
async function waitForServed(servingUrl: string, model: string): Promise<ModelMetadataResponse> {
  for (;;) {
    const response = await fetch(`${servingUrl}/v1/models/${model}/metadata`);
    if (response.status === 200) return (await response.json()) as ModelMetadataResponse;
    assert.equal(response.status, 503, await response.text());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
