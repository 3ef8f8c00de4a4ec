/**
 * The whole pipeline on gs:// as a user would run it: the data in a bucket, the store in the same
 * bucket, against a real GCS emulator (fake-gcs-server). The first version deploys directly, the
 * second through a canary under live traffic; the prediction server, the registry, the validation
 * statistics, the ingest shards and the evaluation report all live in and are served from gs://.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readDeployment } from '../../lib/registry/deployment';
import { decidePipeline, startPipeline, waitForStage } from '../../scripts/clients/pipeline-client';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import { ModelRegistry, wasInProduction } from '../../lib/registry';
import { joinUri, storageFor } from '../../lib/storage';
import { loadTrafficSamples, type TrafficSample } from '../../lib/traffic/samples';
import { startTraffic, type TrafficReport } from '../../lib/traffic/simulated-traffic';
import { deploymentWorkflowId, type PipelineResult } from '../../contracts/temporal';
import { startGcsEmulator, type GcsEmulatorHandle } from '../helpers/gcs-emulator';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  type PipelineEnv,
  TINY_PIPELINE_CONFIG,
} from '../helpers/pipeline-env';
import { makeTinyDataset, type TinyDataset } from '../helpers/tiny-dataset';

const CONFIG: PipelineConfigInput = TINY_PIPELINE_CONFIG;

/** Uploads every file of a local folder under a gs:// prefix, through lib/storage as a user's tooling would. */
async function uploadFolder(localDir: string, prefixUri: string): Promise<number> {
  const entries = await fs.readdir(localDir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile());
  await Promise.all(
    files.map(async (entry) => {
      const local = path.join(entry.parentPath, entry.name);
      const relative = path.relative(localDir, local).split(path.sep).join('/');
      const uri = joinUri(prefixUri, relative);
      await storageFor(uri).write(uri, await fs.readFile(local));
    }),
  );
  return files.length;
}

describe('modelPipeline on gs:// (data and store in a GCS emulator)', { timeout: 600_000 }, () => {
  let gcs: GcsEmulatorHandle;
  let env: PipelineEnv;
  let dataset: TinyDataset;
  let samples: TrafficSample[];
  let dataUri: string;
  let storeUri: string;
  let corrupted: number;

  before(async () => {
    const started = Date.now();
    gcs = await startGcsEmulator({ bucket: 'mlops-e2e' });
    // The training process is forked by the train activity: it must find the emulator the same way.
    assert.equal(process.env.STORAGE_EMULATOR_HOST, gcs.host);
    dataUri = gcs.uri('data');
    storeUri = gcs.uri('store');
    dataset = await makeTinyDataset({ rows: 80, corrupt: 2 });
    const uploaded = await uploadFolder(dataset.dir, dataUri);
    assert.ok(uploaded > 80, `the dataset was uploaded (${uploaded} objects)`);
    samples = await loadTrafficSamples(dataset.dir, 20);
    corrupted = dataset.result.corrupted.length;
    // Nothing may read the local copy: the pipeline knows only gs:// URIs.
    await dataset.close();
    env = await startPipelineEnv({ storeUri, imageUriRoots: [dataUri] });
    console.log(`# setup (emulator, dataset upload, pipeline env): ${Date.now() - started} ms`);
  });
  after(async () => {
    await env?.close();
    await dataset?.close(); // already removed unless setup failed half-way
    await gcs?.close();
  });

  const predict = async (): Promise<string> => {
    const response = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [samples[0]!.instance] }),
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const body = JSON.parse(text) as {
      predictions: Array<{ click_probability: number }>;
      model_version: string;
    };
    const probability = body.predictions[0]!.click_probability;
    assert.ok(probability > 0 && probability < 1, `probability ${probability} is in (0, 1)`);
    return body.model_version;
  };

  it('deploys the first version directly, without approval', async () => {
    const started = Date.now();
    const handle = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri,
      featureSpecUri: await adsSpecFile(),
      config: CONFIG,
      approvalRequired: false,
      taskQueue: TEST_CONTROL_QUEUE,
      workflowId: 'gcs-first',
    });
    const result = (await handle.result()) as PipelineResult;
    console.log(`# first pipeline: ${Date.now() - started} ms`);
    assert.equal(result.outcome, 'production');
    assert.equal(result.version, '1');
    const deployment = await readDeployment(storeUri, TEST_MODEL);
    assert.equal(deployment?.stable?.version, '1');
    assert.ok(deployment?.stable?.modelUri.startsWith(`${storeUri}/`), deployment?.stable?.modelUri);
    // The serving replica polls the deployment in the bucket.
    for (let i = 0; i < 50 && (await fetchStatus()).version !== '1'; i++) await sleep(200);
    assert.equal(await predict(), '1');
  });

  it('rolls the second version out through a canary under live traffic, approved by the decide update', async () => {
    const started = Date.now();
    const handle = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri,
      featureSpecUri: await adsSpecFile(),
      config: CONFIG,
      taskQueue: TEST_CONTROL_QUEUE,
      workflowId: 'gcs-second',
    });
    const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], {
      timeoutMs: 300_000,
    });
    assert.equal(waiting.candidateVersion, '2');
    assert.equal(waiting.productionVersion, '1');
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 40 });
    let result: PipelineResult;
    let report: TrafficReport;
    try {
      const decided = await decidePipeline(env.client, handle.workflowId, {
        decision: 'approve',
        by: 'alice',
        version: '2',
      });
      assert.equal(decided.version, '2');
      result = (await handle.result()) as PipelineResult;
    } finally {
      report = await traffic.stop();
    }
    console.log(
      `# second pipeline (with canary): ${Date.now() - started} ms; traffic ${JSON.stringify(report)}`,
    );
    assert.equal(result.outcome, 'production');
    assert.equal(result.version, '2');
    assert.equal(report.failed + report.errors, 0, `no failed requests (${JSON.stringify(report)})`);
    const canary = (await env.client.workflow.getHandle(deploymentWorkflowId(TEST_MODEL)).result()) as {
      comparisons: Array<{ canary: { requests: number } }>;
    };
    assert.ok(canary.comparisons[0]!.canary.requests >= 5, 'the canary step saw real traffic');
    assert.equal((await readDeployment(storeUri, TEST_MODEL))?.stable?.version, '2');
  });

  /** The stable version this replica serves, from `GET /v1/models/{model}`. */
  const fetchStatus = async (): Promise<{ version?: string; body: unknown }> => {
    const response = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      model_version_status: Array<{ version: string; state: string; role: string; weight: number }>;
    };
    const stable = body.model_version_status.find((status) => status.role === 'stable');
    return { version: stable?.version, body };
  };

  it('serves the second version from the bucket', async () => {
    const status = await fetchStatus();
    assert.equal(status.version, '2', JSON.stringify(status.body));
    // An image named by its gs:// URI, read by the server from the bucket.
    const features = samples[0]!.instance;
    const byUri = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        instances: [{ ...features, image: joinUri(dataUri, 'images', `${samples[0]!.id}.png`) }],
      }),
    });
    const byUriText = await byUri.text();
    assert.equal(byUri.status, 200, byUriText);
    assert.equal((JSON.parse(byUriText) as { model_version: string }).model_version, '2');
    assert.deepEqual(
      (
        status.body as { model_version_status: Array<{ version: string; weight: number }> }
      ).model_version_status.map(({ version, weight }) => ({ version, weight })),
      [{ version: '2', weight: 100 }],
    );
    assert.equal(await predict(), '2');
  });

  it('keeps both versions in the gs:// registry, with lineage pointing into the bucket', async () => {
    const registry = new ModelRegistry(storeUri);
    const versions = await registry.listVersions(TEST_MODEL);
    assert.deepEqual(
      versions.map((record) => record.version),
      ['1', '2'],
    );
    assert.equal((await registry.getProduction(TEST_MODEL))?.version, '2');
    const [first, second] = versions as [(typeof versions)[0], (typeof versions)[0]];
    assert.ok(wasInProduction(first), `v1 was in production (${first.status})`);
    assert.equal(second.status, 'production');
    const storage = storageFor(storeUri);
    for (const record of versions) {
      const { data, training, run } = record.lineage;
      assert.equal(data.uri, dataUri);
      assert.ok(record.modelUri.startsWith(`${storeUri}/`), record.modelUri);
      assert.ok(
        (await storage.list(record.modelUri)).length > 0,
        `the model is in the bucket: ${record.modelUri}`,
      );
      assert.equal(training.backend, 'cpu');
      assert.ok(data.trainRows > 0 && data.evalRows > 0);
      assert.equal(data.trainRows + data.evalRows, 80 - corrupted, 'every image was read from the bucket');
      assert.ok(
        data.warnings?.some(
          (warning) => warning.includes(`${corrupted} rows quarantined`) && warning.includes(`${storeUri}/`),
        ),
        `the quarantine is in the bucket: ${JSON.stringify(data.warnings)}`,
      );
      // The ground truth beside ads.csv was read from the bucket.
      assert.equal(typeof (record.metrics.bestPossible as { auc?: unknown } | undefined)?.auc, 'number');
      assert.match(run.workflowId, /^gcs-(first|second)$/);

      // The validate stage's statistics, in the bucket.
      assert.ok(data.statisticsUri?.startsWith(`${storeUri}/`), data.statisticsUri);
      const statistics = JSON.parse((await storage.read(data.statisticsUri!)).toString('utf8')) as {
        rows: number;
        features: Record<string, unknown>;
      };
      assert.equal(statistics.rows, data.trainRows + data.evalRows);
      assert.ok('advertiser' in statistics.features, Object.keys(statistics.features).join(', '));

      // The sharded ingest's plan and its Arrow shards, in the bucket.
      assert.ok(data.planUri?.startsWith(`${storeUri}/`), data.planUri);
      assert.ok(await storage.exists(data.planUri!), data.planUri);
      assert.ok((data.shardCount ?? 0) > 0);
      for (const split of [data.trainUri, data.evalUri]) {
        assert.ok(split.startsWith(`${storeUri}/`), split);
        assert.ok(await storage.exists(split), split);
      }
    }
    const shards = (await storage.list(storeUri)).filter((uri) => uri.endsWith('.arrow'));
    assert.ok(shards.length > 0, 'the ingest wrote Arrow shards into the bucket');
  });

  it('serves the evaluation report of v2 from the bucket', async () => {
    const record = await new ModelRegistry(storeUri).getVersion(TEST_MODEL, '2');
    const htmlUri = record?.metrics.reportHtmlUri;
    assert.ok(typeof htmlUri === 'string' && htmlUri.startsWith(`${storeUri}/`), String(htmlUri));
    const response = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}/versions/2/report`);
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(text, (await storageFor(htmlUri).read(htmlUri)).toString('utf8'));
    assert.match(text, /<html/i);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
