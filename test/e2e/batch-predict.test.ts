/**
 * Batch prediction on a real Temporal dev server: train a model through the pipeline, score a
 * dataset with it in shards, compare with the online API, and re-run on the same workflow id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBatchPredict } from '../../lib/batch-client';
import type { PipelineConfigInput } from '../../lib/config-schema';
import { startPipeline } from '../../lib/pipeline-client';
import { storageFor } from '../../lib/storage';
import { loadTrafficSamples, type TrafficSample } from '../../lib/traffic/samples';
import type { BatchPredictResult } from '../../workflows/batch-predict';
import type { PipelineResult } from '../../workflows/definitions';
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
    assert.deepEqual([...byId.keys()].sort(), samples.map((sample) => sample.adId).sort());
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
    };
    assert.equal(manifest.rows, lines.length);

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
      const batch = byId.get(sample.adId)!.click_probability;
      assert.ok(
        Math.abs(batch - online.predictions[i]!.click_probability) < 1e-5,
        `${sample.adId}: batch ${batch} vs online ${online.predictions[i]!.click_probability}`,
      );
    });

    // The same workflow id again, after completion: every shard's output is found and kept.
    const again = await run('batch-predict-1');
    assert.equal(again.reusedShards, again.shards.length);
    assert.equal(again.outputUri, first.outputUri);
    assert.equal((await readPredictions(again)).text, text);
  });
});
