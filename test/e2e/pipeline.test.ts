/**
 * The whole lifecycle on a real Temporal dev server: ingest → … → approval → canary → production,
 * decided by signals, with a rejection and an automatic rollback.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { readDeployment } from '../../lib/registry/deployment';
import { startPipeline, waitForStage } from '../../scripts/clients/pipeline-client';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import { ModelRegistry } from '../../lib/registry';
import { writeFlippedLabelDataset } from '../../lib/dataset/flipped-labels';
import { loadGroundTruth, startFeedbackSender } from '../../lib/traffic/feedback-sender';
import { loadTrafficSamples, type TrafficSample } from '../../lib/traffic/samples';
import { startTraffic, type TrafficReport } from '../../lib/traffic/simulated-traffic';
import {
  abortRolloutSignal,
  approveSignal,
  deploymentWorkflowId,
  pauseRolloutSignal,
  promoteRolloutSignal,
  rejectSignal,
  rolloutStatusQuery,
  statusQuery,
  type PipelineResult,
  type RolloutResult,
} from '../../contracts/temporal';
import {
  NOISE_FREE_CANARY_THRESHOLDS,
  startPipelineEnv,
  TEST_ADMIN_TOKEN,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  type PipelineEnv,
  TINY_PIPELINE_CONFIG,
} from '../helpers/pipeline-env';
import { makeTinyDataset } from '../helpers/tiny-dataset';
import { resolveTemporalCli } from '../../lib/temporal-server';

/** Sends a signal the way an operator would, with the official `temporal` CLI. */
async function signalWithTemporalCli(
  address: string,
  workflowId: string,
  name: string,
  input: string,
): Promise<void> {
  const cli = await resolveTemporalCli({ log: () => undefined });
  assert.equal(cli.kind, 'executable', 'the temporal CLI is installed');
  if (cli.kind !== 'executable') return;
  await promisify(execFile)(cli.path, [
    'workflow',
    'signal',
    '--address',
    address,
    '--workflow-id',
    workflowId,
    '--name',
    name,
    '--input',
    input,
  ]);
}

const CONFIG: PipelineConfigInput = TINY_PIPELINE_CONFIG;

describe('modelPipeline end to end', { timeout: 600_000 }, () => {
  let env: PipelineEnv;
  let dataset: Awaited<ReturnType<typeof makeTinyDataset>>;
  let samples: TrafficSample[];

  before(async () => {
    [env, dataset] = await Promise.all([startPipelineEnv(), makeTinyDataset({ rows: 80, corrupt: 2 })]);
    samples = await loadTrafficSamples(dataset.dir, 20);
  });
  after(async () => {
    await env?.close();
    await dataset?.close();
  });

  const start = async (id: string, config: PipelineConfigInput = CONFIG) =>
    startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: dataset.dir,
      featureSpecUri: await adsSpecFile(),
      config,
      taskQueue: TEST_CONTROL_QUEUE,
      workflowId: id,
    });

  const predictVersion = async (): Promise<string> => {
    const response = await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [samples[0]!.instance] }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      predictions: Array<{ click_probability: number }>;
      model_version: string;
    };
    const probability = body.predictions[0]!.click_probability;
    assert.ok(probability > 0 && probability < 1, `probability ${probability} is in (0, 1)`);
    return body.model_version;
  };

  it('deploys the first version once approved by signal, ignoring malformed payloads', async () => {
    const handle = await start('e2e-first');
    const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], {
      timeoutMs: 300_000,
    });
    assert.equal(waiting.candidateVersion, '1');
    assert.ok(waiting.candidateMetrics && waiting.candidateMetrics.count > 0);

    // What the Web UI's "Send a Signal" dialog lists comes from the workflow metadata query.
    const metadata = await handle.query<{
      definition: { signalDefinitions: Array<{ name: string; description?: string }> };
      currentDetails?: string;
    }>('__temporal_workflow_metadata');
    const signals = Object.fromEntries(
      metadata.definition.signalDefinitions.map((s) => [s.name, s.description]),
    );
    assert.match(signals.approve ?? '', /"by"/);
    assert.match(signals.reject ?? '', /"by"/);
    assert.match(metadata.currentDetails ?? '', /waiting for approval/);

    for (const bad of [{}, 'yes', null, { by: 42 }, { by: '  ' }, [1, 2]]) {
      await handle.signal(approveSignal, bad as never);
    }
    const afterBad = await handle.query(statusQuery);
    assert.equal(afterBad.stage, 'awaiting-approval', 'malformed payloads decide nothing');
    assert.equal(afterBad.ignoredSignals.length, 6);

    await handle.signal(approveSignal, { by: 'alice', comment: 'looks good' });
    const result = (await handle.result()) as PipelineResult;
    assert.equal(result.outcome, 'production');
    assert.equal(result.decision?.by, 'alice');
    assert.equal(await predictVersion(), '1');
    const record = await new ModelRegistry(env.storeUri).getVersion(TEST_MODEL, '1');
    assert.equal(record?.status, 'production');
    assert.equal(record?.lineage.training.backend, 'cpu');
  });

  it('rolls the second version out through a canary under live traffic, approved with the temporal CLI', async () => {
    const handle = await start('e2e-second');
    await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], { timeoutMs: 300_000 });
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 40 });
    let result: PipelineResult;
    let report: TrafficReport;
    try {
      await signalWithTemporalCli(env.devServer.address, handle.workflowId, 'approve', '{"by": "bob"}');
      result = (await handle.result()) as PipelineResult;
    } finally {
      report = await traffic.stop();
    }
    assert.equal(result.outcome, 'production');
    assert.equal(result.version, '2');
    assert.equal(result.decision?.by, 'bob', 'approved through `temporal workflow signal --name approve`');
    assert.equal(report.failed + report.errors, 0, `no failed requests (${JSON.stringify(report)})`);
    const canary = (await env.client.workflow.getHandle(deploymentWorkflowId(TEST_MODEL)).result()) as {
      comparisons: Array<{ canary: { requests: number } }>;
    };
    assert.ok(canary.comparisons[0]!.canary.requests >= 5, 'the canary step saw real traffic');
    assert.equal(await predictVersion(), '2');
    assert.equal((await readDeployment(env.storeUri, TEST_MODEL))?.stable?.version, '2');
  });

  it('rejects by signal and leaves production untouched', async () => {
    const handle = await start('e2e-rejected');
    const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], {
      timeoutMs: 300_000,
    });
    assert.equal(
      waiting.productionVersion,
      '2',
      'the reviewer sees the production model beside the candidate',
    );
    await handle.signal(rejectSignal, { by: 'carol', reason: 'not convinced' });
    await handle.signal(approveSignal, { by: 'late' });
    const result = (await handle.result()) as PipelineResult;
    assert.equal(result.outcome, 'rejected');
    assert.equal(result.decision?.note, 'not convinced');
    const status = await handle.query(statusQuery);
    assert.equal(status.stage, 'rejected');
    assert.ok(
      status.ignoredSignals.some(
        (s) => s.name === 'approve' && /already rejected|nothing is waiting/.test(s.reason),
      ),
    );
    assert.equal(
      (await new ModelRegistry(env.storeUri).getVersion(TEST_MODEL, waiting.candidateVersion!))?.status,
      'rejected',
    );
    assert.equal(await predictVersion(), '2');
  });

  it('rolls back automatically when the canary error rate exceeds stable', async () => {
    const handle = await start('e2e-rollback');
    const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], {
      timeoutMs: 300_000,
    });
    const candidate = waiting.candidateVersion!;
    const fault = await fetch(`${env.servingUrl}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: JSON.stringify({ model: TEST_MODEL, version: candidate, errorRate: 1 }),
    });
    assert.equal(fault.status, 200, await fault.text());
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 40 });
    let failure: unknown;
    try {
      await handle.signal(approveSignal, { by: 'dave' });
      failure = await handle.result().then(
        () => assert.fail('the pipeline should fail with a rollback'),
        (err: unknown) => err,
      );
    } finally {
      await traffic.stop();
    }
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match(String(failure.cause?.message), /rolled back: .*error rate: canary 100\.00%/);
    assert.equal((await handle.query(statusQuery)).stage, 'rolled-back');
    assert.equal((await readDeployment(env.storeUri, TEST_MODEL))?.stable?.version, '2');
    assert.equal((await readDeployment(env.storeUri, TEST_MODEL))?.canary, undefined);
    assert.equal(
      (await new ModelRegistry(env.storeUri).getVersion(TEST_MODEL, candidate))?.status,
      'rolled-back',
    );
    assert.equal(await predictVersion(), '2');
  });

  /** Starts a pipeline whose first canary step bakes long enough to act on it by hand, and approves it. */
  const startLongCanary = async (id: string) => {
    const handle = await start(id, {
      ...CONFIG,
      rollout: {
        ...CONFIG.rollout,
        steps: [{ weight: 10, bakeSeconds: 300, minRequests: 1 }, { weight: 100 }],
        maxWaitSeconds: 600,
      },
    });
    await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], { timeoutMs: 300_000 });
    await handle.signal(approveSignal, { by: 'erin' });
    await waitForStage(env.client, handle.workflowId, ['canary'], { timeoutMs: 60_000 });
    const rollout = env.client.workflow.getHandle(deploymentWorkflowId(TEST_MODEL));
    for (
      let i = 0;
      i < 100 && (await rollout.query(rolloutStatusQuery).catch(() => undefined))?.phase !== 'baking';
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { handle, rollout };
  };

  it('pauses a canary by signal, then promotes it by hand past the remaining steps', async () => {
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 20 });
    try {
      const { handle, rollout } = await startLongCanary('e2e-manual-promote');
      await rollout.signal(pauseRolloutSignal, { by: 'frank', reason: 'checking dashboards' });
      await rollout.signal(pauseRolloutSignal, { wrong: true } as never);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const paused = await rollout.query(rolloutStatusQuery);
      assert.equal(paused.phase, 'paused');
      assert.equal(paused.weight, 10, 'a paused canary holds its weight');
      assert.ok(
        paused.commands.some((c) => c.command === 'pause' && /refused/.test(c.outcome)),
        'a malformed command is refused and recorded',
      );
      await rollout.signal(promoteRolloutSignal, { by: 'frank' });
      const result = (await handle.result()) as PipelineResult;
      assert.equal(result.outcome, 'production');
      assert.equal(((await rollout.result()) as RolloutResult).promotedBy, 'frank');
      assert.equal(await predictVersion(), result.version);
    } finally {
      await traffic.stop();
    }
  });

  it('aborts a canary by signal: traffic goes back to stable and the pipeline says who aborted', async () => {
    const stableBefore = (await readDeployment(env.storeUri, TEST_MODEL))?.stable?.version;
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 20 });
    try {
      const { handle } = await startLongCanary('e2e-manual-abort');
      await env.client.workflow
        .getHandle(deploymentWorkflowId(TEST_MODEL))
        .signal(abortRolloutSignal, { by: 'grace', reason: 'wrong day' });
      const failure = await handle.result().then(
        () => assert.fail('an aborted rollout fails the pipeline'),
        (err: unknown) => err,
      );
      assert.ok(failure instanceof WorkflowFailedError);
      assert.match(String(failure.cause?.message), /aborted by grace: wrong day/);
      const deployment = await readDeployment(env.storeUri, TEST_MODEL);
      assert.equal(deployment?.stable?.version, stableBefore);
      assert.equal(deployment?.canary, undefined);
    } finally {
      const report = await traffic.stop();
      assert.equal(report.failed + report.errors, 0, 'no request failed while traffic moved back');
    }
  });

  it('rolls back a slower canary on p99 latency', async () => {
    const handle = await start('e2e-slow', {
      ...CONFIG,
      rollout: {
        ...CONFIG.rollout,
        steps: [{ weight: 50, bakeSeconds: 30, minRequests: 10 }, { weight: 100 }],
        // Latency is what this test judges: the shipped default, against 250 ms of injected delay.
        thresholds: { ...NOISE_FREE_CANARY_THRESHOLDS, maxP99LatencyRatio: 1.5, minSamples: 10 },
      },
    });
    const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], {
      timeoutMs: 300_000,
    });
    const fault = await fetch(`${env.servingUrl}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: JSON.stringify({ model: TEST_MODEL, version: waiting.candidateVersion, extraLatencyMs: 250 }),
    });
    assert.equal(fault.status, 200, await fault.text());
    const traffic = startTraffic({
      baseUrl: env.servingUrl,
      model: TEST_MODEL,
      samples,
      rate: 40,
      connections: 16,
    });
    try {
      await handle.signal(approveSignal, { by: 'heidi' });
      const failure = await handle.result().then(
        () => assert.fail('the slow canary should be rolled back'),
        (err: unknown) => err,
      );
      assert.ok(failure instanceof WorkflowFailedError);
      assert.match(String(failure.cause?.message), /rolled back: .*p99 latency: canary \d+\.\d ms vs stable/);
    } finally {
      const report = await traffic.stop();
      assert.equal(
        report.failed + report.errors,
        0,
        'slow is not failed: no request was lost through the rollback',
      );
    }
  });

  it('rolls back a worse model on the online log loss of live click feedback', async () => {
    // Labels flipped upstream: offline evaluation on the same broken data cannot see it.
    const flippedDir = path.join(dataset.dir, 'flipped-labels');
    await writeFlippedLabelDataset(dataset.dir, flippedDir);
    const handle = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: flippedDir,
      featureSpecUri: await adsSpecFile(),
      taskQueue: TEST_CONTROL_QUEUE,
      workflowId: 'e2e-worse',
      config: {
        ...CONFIG,
        // Trained long enough to learn the flipped click rate, so it is clearly worse live.
        train: { ...CONFIG.train, epochs: 8, learningRate: 0.02 },
        rollout: {
          ...CONFIG.rollout,
          steps: [{ weight: 50, bakeSeconds: 60, minRequests: 10 }, { weight: 100 }],
          // Only feedback may decide here: latency and score shift are switched off.
          thresholds: { ...NOISE_FREE_CANARY_THRESHOLDS, minFeedback: 15 },
        },
      },
    });
    await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], { timeoutMs: 300_000 });
    const feedback = startFeedbackSender({
      baseUrl: env.servingUrl,
      groundTruth: await loadGroundTruth(dataset.dir),
      delayMs: 200,
    });
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 40, feedback });
    try {
      await handle.signal(approveSignal, { by: 'ivan' });
      const failure = await handle.result().then(
        () => assert.fail('the worse canary should be rolled back'),
        (err: unknown) => err,
      );
      assert.ok(failure instanceof WorkflowFailedError);
      assert.match(
        String(failure.cause?.message),
        /rolled back: .*online log loss: canary \d\.\d{4} \(\d+ labels\) vs stable/,
      );
    } finally {
      const report = await traffic.stop();
      const sent = await feedback.stop();
      assert.equal(report.failed + report.errors, 0);
      assert.ok(
        sent.accepted > 0 && sent.accepted === sent.sent,
        `every feedback label joined (${JSON.stringify(sent)})`,
      );
    }
  });
});
