/**
 * The production monitor on a real dev server: a deployed model receives drifted traffic through the
 * real prediction server, whose logs the monitor reads; it detects the drift and starts retraining.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import { buildPipelineInput, startPipeline } from '../../scripts/clients/pipeline-client';
import { startMonitor, stopMonitor } from '../../scripts/clients/monitor-client';
import type { EvolvingSchema } from '../../activities/validate/schema-evolution';
import { ModelRegistry } from '../../lib/registry';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import type { PipelineInput, PipelineResult } from '../../contracts/temporal';
import {
  monitorStatusQuery,
  monitorWorkflowId,
  retrainWorkflowId,
  type MonitorStatus,
} from '../../contracts/monitor';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  TINY_PIPELINE_CONFIG,
  type PipelineEnv,
} from '../helpers/pipeline-env';
import { makeTinyDataset, type TinyDataset } from '../helpers/tiny-dataset';
import { eventually } from '../helpers/eventually';

const CONFIG: PipelineConfigInput = {
  ...TINY_PIPELINE_CONFIG,
  // The first version deploys at once: no canary to wait for.
  rollout: { steps: [{ weight: 100, bakeSeconds: 0, minRequests: 0 }] },
};

describe('modelMonitor end to end', { timeout: 600_000 }, () => {
  let env: PipelineEnv;
  let training: TinyDataset;
  let drifted: TinyDataset;

  before(async () => {
    [env, training, drifted] = await Promise.all([
      startPipelineEnv(),
      makeTinyDataset({ rows: 120 }),
      makeTinyDataset({ rows: 220, seed: 7, drift: true }),
    ]);
  });
  after(async () => {
    await env?.close();
    await training?.close();
    await drifted?.close();
  });

  it('detects drift of live traffic from the training data and starts one retraining pipeline, which deploys and widens the schema', async () => {
    const first = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: training.dir,
      featureSpecUri: await adsSpecFile(),
      config: CONFIG,
      approvalRequired: false,
      taskQueue: TEST_CONTROL_QUEUE,
      workflowId: 'monitor-first',
    });
    const deployed = (await first.result()) as PipelineResult;
    assert.equal(deployed.outcome, 'production');
    const schemaUri = path.join(env.storeUri, 'schemas', TEST_MODEL, 'schema.json');
    const inferred = JSON.parse(await fs.readFile(schemaUri, 'utf8')) as EvolvingSchema;
    assert.equal(inferred.revisions, undefined);
    assert.ok(!inferred.features.advertiser!.domain!.includes('helix'));

    const retrain = buildPipelineInput({
      modelName: TEST_MODEL,
      dataUri: drifted.dir,
      config: CONFIG,
      approvalRequired: false,
    });
    const monitor = await startMonitor(env.client, {
      modelName: TEST_MODEL,
      config: {
        intervalSeconds: 1,
        action: 'retrain',
        thresholds: { minLabels: 50, maxLogLoss: 5 },
        drift: { minRows: 50 },
        // Small, so the test also crosses continue-as-new with the cursors carried.
        maxIterationsPerRun: 3,
      },
      dataUri: drifted.dir,
      pipelineConfig: CONFIG,
      approvalRequired: false,
      taskQueue: TEST_CONTROL_QUEUE,
    });
    assert.equal(monitor.workflowId, monitorWorkflowId(TEST_MODEL));

    // Nothing served yet: the monitor measures nothing and triggers nothing.
    const quiet = await eventually(async () => {
      const status = await monitor.query(monitorStatusQuery);
      return status.iterations >= 1 ? status : undefined;
    }, 'a first measurement');
    assert.equal(quiet.actions.length, 0);

    await eventually(async () => {
      const response = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}`);
      const body = (await response.json()) as { model_version_status?: Array<{ version: string }> };
      return JSON.stringify(body).includes('"1"') ? true : undefined;
    }, 'the prediction server to load v1');
    const samples = await loadTrafficSamples(drifted.dir, 200);
    assert.ok(samples.length >= 150, `${samples.length} drifted samples`);
    const response = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: samples.map((sample) => sample.instance) }),
    });
    assert.equal(response.status, 200, await response.clone().text());

    const triggered: MonitorStatus = await eventually(async () => {
      const status = await monitor.query(monitorStatusQuery);
      return status.actions.length > 0 ? status : undefined;
    }, 'the monitor to act on drift');
    const [action] = triggered.actions;
    assert.equal(action?.kind, 'retrain-started');
    assert.ok(
      action.triggers.some((trigger) => trigger.kind === 'drift'),
      JSON.stringify(action.triggers),
    );
    assert.equal(action.workflowId, retrainWorkflowId(TEST_MODEL, '1'));

    // The retraining pipeline exists, on the drifted data, with the monitor's configuration.
    const child = env.client.workflow.getHandle(retrainWorkflowId(TEST_MODEL, '1'));
    const description = await child.describe();
    assert.equal(description.type, 'modelPipeline');
    const history = await child.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const childInput = defaultPayloadConverter.fromPayload<PipelineInput>(started!.input!.payloads![0]!);
    assert.deepEqual(childInput, {
      ...retrain,
      trigger: {
        by: 'monitor',
        monitorWorkflowId: monitorWorkflowId(TEST_MODEL),
        productionVersion: '1',
        reasons: action.triggers.map((trigger) => trigger.message),
        expectShift: true,
      },
    });

    // Later measurements keep reading new parts only, across continue-as-new, and never start a second one.
    const later = await eventually(async () => {
      const status = await monitor.query(monitorStatusQuery);
      return status.iterations >= 5 ? status : undefined;
    }, 'iterations past a continue-as-new');
    assert.equal(later.actions.length, 1);
    assert.equal(later.last?.predictions, 0);

    // Every measurement is recorded in the store.
    const day = new Date().toISOString().slice(0, 10);
    const folder = path.join(env.storeUri, 'monitoring', TEST_MODEL, 'measurements', day);
    const files = await fs.readdir(folder);
    assert.ok(files.length >= 5, `${files.length} measurement files`);
    const lines = await Promise.all(files.map((file) => fs.readFile(path.join(folder, file), 'utf8')));
    assert.ok(lines.some((line) => line.includes('"kind":"drift"')));

    // The retraining passes validation on the drifted data (drift and new values are expected there)
    // and deploys; only then does the model's schema widen to the new data, with a revision saying why.
    const retrained = (await child.result()) as PipelineResult;
    assert.equal(retrained.outcome, 'production');
    assert.equal(retrained.version, '2');
    const schema = JSON.parse(await fs.readFile(schemaUri, 'utf8')) as EvolvingSchema;
    assert.equal(schema.revisions?.length, 1);
    const [revision] = schema.revisions;
    assert.match(
      revision!.reason,
      /^v2 reached production: retraining for a data shift, started by mlops-monitor-ctr$/,
    );
    assert.equal(revision!.by.workflowId, retrainWorkflowId(TEST_MODEL, '1'));
    assert.ok(
      revision!.changes.some((change) => change.startsWith('advertiser: domain + "helix"')),
      revision!.changes.join('\n'),
    );
    assert.ok(schema.features.advertiser!.domain!.includes('helix'));
    const v2 = await new ModelRegistry(env.storeUri).getVersion(TEST_MODEL, '2');
    assert.deepEqual(v2?.lineage.trigger, {
      by: 'monitor',
      workflowId: monitorWorkflowId(TEST_MODEL),
      reasons: action.triggers.map((trigger) => trigger.message),
    });
    assert.deepEqual(v2?.lineage.data.schemaChanges, revision!.changes);
    assert.ok(
      v2?.lineage.data.warnings?.some((warning) =>
        warning.startsWith('expected (retraining for a data shift'),
      ),
      JSON.stringify(v2?.lineage.data.warnings),
    );
    // The CLI reads the same status.
    const cli = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/mlops.ts', 'monitor', 'status', '--model', TEST_MODEL],
      {
        cwd: path.resolve(__dirname, '..', '..'),
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: env.devServer.address,
          TEMPORAL_NAMESPACE: env.devServer.namespace,
          MLOPS_DEBUG: '',
        },
      },
    );
    assert.match(cli.stdout, /retrain-started mlops-monitor-retrain-ctr-v1/);

    await stopMonitor(env.client, TEST_MODEL, 'test');
    const final = (await monitor.result()) as MonitorStatus;
    assert.equal(final.stopping, true);
  });
});
