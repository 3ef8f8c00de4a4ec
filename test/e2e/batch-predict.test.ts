/**
 * Batch prediction on a real Temporal dev server: train a model through the pipeline, score a
 * dataset with it in shards, compare with the online API, and re-run on the same workflow id;
 * then `mlops batch-predict` as a real subprocess: --wait, status, and bad input that starts nothing.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  BATCH_PREDICT_WORKFLOW_TYPE,
  queryBatchPredictStatus,
  startBatchPredict,
} from '../../scripts/clients/batch-client';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import { startPipeline } from '../../scripts/clients/pipeline-client';
import { storageFor } from '../../lib/storage';
import { loadTrafficSamples, type TrafficSample } from '../../lib/traffic/samples';
import type { BatchPredictResult } from '../../workflows/batch-predict';
import type { PipelineResult } from '../../contracts/temporal';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_GPU_QUEUE,
  TEST_MODEL,
  TINY_PIPELINE_CONFIG,
  type PipelineEnv,
} from '../helpers/pipeline-env';
import { makeTinyDataset, type TinyDataset } from '../helpers/tiny-dataset';

const CONFIG: PipelineConfigInput = {
  ...TINY_PIPELINE_CONFIG,
  rollout: { steps: [{ weight: 100, bakeSeconds: 0, minRequests: 0 }], maxWaitSeconds: 60 },
};

interface PredictionLine {
  ad_id: string;
  click_probability: number;
  model_version: string;
}

async function readPredictions(
  result: BatchPredictResult,
): Promise<{ text: string; lines: PredictionLine[] }> {
  let text = '';
  for (const shard of result.shards) {
    text += (await storageFor(shard.predictionsUri).read(shard.predictionsUri)).toString('utf8');
  }
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as PredictionLine);
  return { text, lines };
}

describe('batch prediction', { timeout: 900_000 }, () => {
  let env: PipelineEnv;
  let dataset: TinyDataset;
  let samples: TrafficSample[];
  let version: string;

  before(async () => {
    [env, dataset] = await Promise.all([startPipelineEnv(), makeTinyDataset({ rows: 80 })]);
    samples = await loadTrafficSamples(dataset.dir, 1000);
    const pipeline = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: dataset.dir,
      featureSpecUri: await adsSpecFile(),
      config: CONFIG,
      approvalRequired: false,
      taskQueue: TEST_CONTROL_QUEUE,
      workflowId: 'batch-predict-train',
    });
    const trained = (await pipeline.result()) as PipelineResult;
    assert.equal(trained.outcome, 'production');
    version = trained.version;
  });
  after(async () => {
    await env?.close();
    await dataset?.close();
  });

  const run = async (workflowId: string) => {
    const handle = await startBatchPredict(env.client, {
      modelName: TEST_MODEL,
      version,
      dataUri: dataset.dir,
      shardRows: 20,
      concurrency: 3,
      gpuTaskQueue: TEST_GPU_QUEUE,
      taskQueue: TEST_CONTROL_QUEUE,
      workflowId,
    });
    return (await handle.result()) as BatchPredictResult;
  };

  it('scores every valid row in shards, keyed by ad_id, as the online model does; a re-run reuses every shard', async () => {
    const first = await run('batch-predict-1');
    assert.equal(first.version, version);
    assert.ok(first.shards.length >= 3, `expected at least 3 shards, got ${first.shards.length}`);
    assert.equal(first.reusedShards, 0);

    const { text, lines } = await readPredictions(first);
    assert.equal(first.rows, lines.length);
    const byId = new Map(lines.map((line) => [line.ad_id, line]));
    assert.equal(byId.size, lines.length, 'one prediction per ad_id');
    assert.deepEqual([...byId.keys()].sort(), samples.map((sample) => sample.id).sort());
    for (const line of lines) {
      assert.ok(
        line.click_probability > 0 && line.click_probability < 1,
        `${line.ad_id}: ${line.click_probability}`,
      );
      assert.equal(line.model_version, version);
    }
    const manifest = JSON.parse(
      (await storageFor(first.manifestUri).read(first.manifestUri)).toString('utf8'),
    ) as {
      rows: number;
      skipped: { rows: number };
    };
    assert.equal(manifest.rows, lines.length);
    assert.equal(manifest.skipped.rows, 0);

    const status = await queryBatchPredictStatus(env.client, 'batch-predict-1');
    assert.deepEqual(
      {
        stage: status.stage,
        version: status.version,
        shardsDone: status.shardsDone,
        shardsTotal: status.shardsTotal,
        rowsScored: status.rowsScored,
        rowsSkipped: status.rowsSkipped,
        outputUri: status.outputUri,
        manifestUri: status.manifestUri,
      },
      {
        stage: 'done',
        version,
        shardsDone: first.shards.length,
        shardsTotal: first.shards.length,
        rowsScored: lines.length,
        rowsSkipped: 0,
        outputUri: first.outputUri,
        manifestUri: first.manifestUri,
      },
    );

    const picked = [samples[0]!, samples[samples.length - 1]!];
    // The prediction server polls the deployment; wait until it serves the trained version.
    let online: { predictions: Array<{ click_probability: number }>; model_version: string } | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const response = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: picked.map((sample) => sample.instance) }),
      });
      if (response.status === 200) {
        online = (await response.json()) as typeof online;
        if (String(online?.model_version) === version) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.ok(online, 'the prediction server answered');
    assert.equal(String(online.model_version), version);
    picked.forEach((sample, i) => {
      const batch = byId.get(sample.id)!.click_probability;
      assert.ok(
        Math.abs(batch - online.predictions[i]!.click_probability) < 1e-5,
        `${sample.id}: batch ${batch} vs online ${online.predictions[i]!.click_probability}`,
      );
    });

    // The same workflow id again, after completion: every shard's output is found and kept.
    const again = await run('batch-predict-1');
    assert.equal(again.reusedShards, again.shards.length);
    assert.equal(again.outputUri, first.outputUri);
    assert.equal((await readPredictions(again)).text, text);
  });

  /** `mlops …` as a user runs it, against this environment's server, queues and store. */
  const mlops = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'scripts/mlops.ts', ...args],
        {
          cwd: path.resolve(__dirname, '..', '..'),
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: env.devServer.address,
            TEMPORAL_NAMESPACE: env.devServer.namespace,
            MLOPS_STORE: env.storeUri,
            MLOPS_CONTROL_QUEUE: TEST_CONTROL_QUEUE,
            MLOPS_GPU_QUEUE: TEST_GPU_QUEUE,
            MLOPS_DEBUG: '',
          },
        },
      );
      return { code: 0, stdout, stderr };
    } catch (err) {
      const failed = err as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  };

  const countBatchJobs = async () =>
    (await env.client.workflow.count(`WorkflowType = '${BATCH_PREDICT_WORKFLOW_TYPE}'`)).count;

  it('mlops batch-predict --wait shows progress, prints the summary and exits 0; batch-predict status shows the finished job', async (t) => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-predict-out-'));
    try {
      const cli = await mlops([
        'batch-predict',
        '--model',
        TEST_MODEL,
        '--data',
        dataset.dir,
        '--version',
        `v${version}`,
        '--out',
        out,
        '--shard-rows',
        '20',
        '--id',
        'batch-predict-cli',
        '--wait',
      ]);
      assert.equal(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
      for (const line of cli.stdout.trimEnd().split('\n')) t.diagnostic(line);
      assert.match(cli.stdout, /^Started batch prediction batch-predict-cli$/m);
      assert.match(cli.stdout, /^\[done\] 4\/4 shards, 80 rows scored$/m);
      assert.match(
        cli.stdout,
        new RegExp(`^${TEST_MODEL} v${version}: 80 predictions in 4 shards \\(0 reused\\)$`, 'm'),
      );
      assert.ok(cli.stdout.includes(`Predictions: ${out}\n`), cli.stdout);
      assert.ok(cli.stdout.includes(`Manifest: ${path.join(out, 'manifest.json')}\n`), cli.stdout);
      const files = (await fs.readdir(out)).filter((file) => file.endsWith('.jsonl'));
      assert.equal(files.length, 4);

      const status = await mlops(['batch-predict', 'status', 'batch-predict-cli']);
      assert.equal(status.code, 0, status.stderr);
      for (const line of status.stdout.trimEnd().split('\n')) t.diagnostic(line);
      assert.match(status.stdout, /stage: +done/);
      assert.match(status.stdout, /scoring: +4\/4 shards, 80 rows scored, 0 shards reused/);
      assert.match(status.stdout, new RegExp(`output: +${out}`));
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  });

  it('mlops batch-predict --wait exits 1 with the reason when the job fails', async (t) => {
    const data = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-predict-bad-data-'));
    try {
      await fs.writeFile(path.join(data, 'ads.csv'), 'campaign,spend\nspring,10\n');
      const cli = await mlops([
        'batch-predict',
        '--model',
        TEST_MODEL,
        '--data',
        data,
        '--id',
        'batch-predict-bad-data',
        '--wait',
      ]);
      assert.equal(cli.code, 1, `${cli.stdout}\n${cli.stderr}`);
      t.diagnostic(cli.stderr.trim());
      assert.match(cli.stdout, /^Started batch prediction batch-predict-bad-data$/m);
      assert.match(cli.stdout, /^\[failed\] .*ad_id/m);
      assert.match(cli.stderr, /^error: batch prediction batch-predict-bad-data failed: .*ad_id/m);
    } finally {
      await fs.rm(data, { recursive: true, force: true });
    }
  });

  it('mlops batch-predict exits 1 with a clear message, starting nothing, on an unknown model or version, a missing dataset or bad options', async () => {
    const before = await countBatchJobs();
    const cases: Array<{ args: string[]; message: RegExp }> = [
      {
        args: ['--model', 'nosuch', '--data', dataset.dir],
        message: /no model named nosuch in the registry at /,
      },
      {
        args: ['--model', TEST_MODEL, '--data', dataset.dir, '--version', '99'],
        message: new RegExp(`${TEST_MODEL} has no version 99 in the registry at .*; it has v${version}`),
      },
      {
        args: ['--model', TEST_MODEL, '--data', path.join(dataset.dir, 'nothing-here')],
        message: /no dataset at .*nothing-here: --data must name a CSV or a folder/,
      },
      {
        args: ['--model', TEST_MODEL, '--data', dataset.dir, '--shard-rows', '0'],
        message: /--shard-rows must be a positive integer/,
      },
      {
        args: ['--model', TEST_MODEL, '--data', dataset.dir, '--version', 'latest'],
        message: /--version must be a number like 3 or production/,
      },
      { args: ['--model', TEST_MODEL], message: /required option '--data <uri>' not specified/ },
    ];
    const results = await Promise.all(cases.map(({ args }) => mlops(['batch-predict', ...args, '--wait'])));
    results.forEach((result, i) => {
      const { args, message } = cases[i]!;
      assert.equal(
        result.code,
        1,
        `${args.join(' ')}: exit ${result.code}\n${result.stdout}${result.stderr}`,
      );
      assert.match(result.stderr, message, args.join(' '));
      assert.doesNotMatch(result.stdout, /Started/, args.join(' '));
    });
    assert.equal(await countBatchJobs(), before, 'no batch prediction was started');
  });
});
