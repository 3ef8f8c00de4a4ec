/**
 * The review step, the registry and the concurrency rule on a real Temporal dev server: the
 * `decide` Update, supersession, the full-traffic gate, one deployment per model at a time, and
 * `mlops rollback` / `mlops models` as a user runs them.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { readDeployment } from '../../lib/registry/deployment';
import {
  DecisionRefusedError,
  decidePipeline,
  queryPipelineStatus,
  startPipeline,
  startRollback,
  waitForStage,
} from '../../scripts/clients/pipeline-client';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import { ModelRegistry } from '../../lib/registry';
import { loadTrafficSamples, type TrafficSample } from '../../lib/traffic/samples';
import { startTraffic } from '../../lib/traffic/simulated-traffic';
import {
  abortRolloutSignal,
  approveSignal,
  decideUpdate,
  deploymentWorkflowId,
  rolloutStatusQuery,
  statusQuery,
  type PipelineResult,
  type PipelineStatus,
} from '../../contracts/temporal';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  type PipelineEnv,
  TINY_PIPELINE_CONFIG,
} from '../helpers/pipeline-env';
import { makeTinyDataset } from '../helpers/tiny-dataset';

const REPO = path.resolve(__dirname, '../..');

const CONFIG: PipelineConfigInput = TINY_PIPELINE_CONFIG;

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('approval, registry and deployment concurrency', { timeout: 900_000 }, () => {
  let env: PipelineEnv;
  let dataset: Awaited<ReturnType<typeof makeTinyDataset>>;
  let samples: TrafficSample[];
  let registry: ModelRegistry;

  before(async () => {
    [env, dataset] = await Promise.all([startPipelineEnv(), makeTinyDataset({ rows: 80 })]);
    samples = await loadTrafficSamples(dataset.dir, 20);
    registry = new ModelRegistry(env.storeUri);
  });
  after(async () => {
    await env?.close();
    await dataset?.close();
  });

  const start = async (id: string, config: PipelineConfigInput = CONFIG, approvalRequired = true) =>
    startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: dataset.dir,
      featureSpecUri: await adsSpecFile(),
      config,
      approvalRequired,
      taskQueue: TEST_CONTROL_QUEUE,
      workflowId: id,
    });
  const servedVersion = async () => (await readDeployment(env.storeUri, TEST_MODEL))?.stable?.version;
  /** Runs the real `mlops` command against this environment. */
  const mlops = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'scripts/mlops.ts', ...args],
        {
          cwd: REPO,
          timeout: 120_000,
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: env.devServer.address,
            MLOPS_CONTROL_QUEUE: TEST_CONTROL_QUEUE,
            MLOPS_STORE: env.storeUri,
          },
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });

  it('the decide Update refuses what cannot apply; the first decision wins and lands in the lineage', async () => {
    const handle = await start('approval-update');
    await assert.rejects(
      decidePipeline(env.client, handle.workflowId, { decision: 'approve', by: 'early' }),
      (err: unknown) =>
        err instanceof DecisionRefusedError && /nothing is waiting for a decision \(stage/.test(err.message),
    );
    const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], {
      timeoutMs: 300_000,
    });
    const version = waiting.candidateVersion!;
    assert.equal(waiting.pending?.gate, 'candidate');

    await assert.rejects(
      decidePipeline(env.client, handle.workflowId, { decision: 'approve', by: 'alice', version: '99' }),
      new RegExp(`v99 is not the version waiting for approval; v${version} is`),
    );
    await assert.rejects(
      handle.executeUpdate(decideUpdate, { args: [{ decision: 'maybe', by: 'x' } as never] }),
      (err: unknown) =>
        err instanceof WorkflowUpdateFailedError &&
        /"decision" must be "approve" or "reject"/.test(String(err.cause?.message)),
    );

    // What the reviewer sees in the Web UI: slices, warnings, time left, the report link.
    const metadata = await handle.query<{
      currentDetails?: string;
      definition: { updateDefinitions: Array<{ name: string }> };
    }>('__temporal_workflow_metadata');
    assert.ok(metadata.definition.updateDefinitions.some((u) => u.name === 'decide'));
    assert.match(metadata.currentDetails ?? '', /device/);
    assert.match(metadata.currentDetails ?? '', /placement/);
    assert.match(metadata.currentDetails ?? '', /Time left: 7[12]h/);
    assert.match(metadata.currentDetails ?? '', /\/v1\/models\/ctr\/versions\/\d+\/report/);
    const description = await handle.describe();
    assert.match((await description.staticSummary()) ?? '', /Train ctr on/);
    assert.match((await description.staticDetails()) ?? '', /approval: signal `approve`/);

    const accepted = await decidePipeline(env.client, handle.workflowId, {
      decision: 'approve',
      by: 'alice',
      comment: 'slices look fine',
      version,
    });
    assert.equal(accepted.decision.kind, 'approved');
    assert.equal(accepted.gate, 'candidate');
    await assert.rejects(
      decidePipeline(env.client, handle.workflowId, { decision: 'reject', by: 'bob' }),
      /already approved by alice/,
    );
    await handle.signal(approveSignal, { by: 'bob' });
    const result = (await handle.result()) as PipelineResult;
    assert.equal(result.outcome, 'production');
    assert.equal(result.decision?.by, 'alice');
    const status = await handle.query(statusQuery);
    assert.ok(
      status.ignoredSignals.some((s) => s.name === 'approve' && /already approved by alice/.test(s.reason)),
    );

    const record = (await registry.getVersion(TEST_MODEL, version))!;
    assert.equal(record.status, 'production');
    assert.deepEqual(
      record.approvals.map((a) => [a.gate, a.decision, a.by, a.note]),
      [['candidate', 'approved', 'alice', 'slices look fine']],
    );
    assert.match(record.lineage.code.gitCommit ?? '', /^[0-9a-f]{40}$/);
    assert.match(record.lineage.code.packageVersion, /^\d+\.\d+\.\d+/);
    assert.match(record.lineage.data.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(record.lineage.data.schemaVersion, 2);
    assert.match(record.lineage.data.featureSpecSource ?? '', /^given: .*features\.json$/);
    assert.match(record.lineage.data.featureSpecUri ?? '', /ingest\/features\.json$/);
    assert.equal((record.lineage.config as { train: { epochs: number } }).train.epochs, 1);
    assert.equal(record.lineage.training.backend, 'cpu');
    assert.equal(record.lineage.run.workflowId, handle.workflowId);
    assert.equal((await registry.getAliases(TEST_MODEL)).production, version);

    // Each activity says what it does, as the Web UI shows it beside the event.
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? []).filter(
      (event) => event.activityTaskScheduledEventAttributes && event.userMetadata?.summary,
    );
    assert.ok(summaries.length >= 5, `activities carry summaries (${summaries.length})`);
  });

  it('a newer candidate supersedes an older one still waiting; the older ends cleanly, saying why', async () => {
    const older = await start('approval-older');
    const olderWaiting = await waitForStage(env.client, older.workflowId, ['awaiting-approval'], {
      timeoutMs: 300_000,
    });
    const newer = await start('approval-newer');
    const newerWaiting = await waitForStage(env.client, newer.workflowId, ['awaiting-approval'], {
      timeoutMs: 300_000,
    });
    const result = (await older.result()) as PipelineResult;
    assert.equal(result.outcome, 'superseded');
    assert.match(
      result.message ?? '',
      new RegExp(`superseded by v${newerWaiting.candidateVersion} \\(workflow approval-newer\\)`),
    );
    const olderRecord = await registry.getVersion(TEST_MODEL, olderWaiting.candidateVersion!);
    assert.equal(olderRecord?.status, 'archived');
    assert.match(olderRecord?.history.at(-1)?.note ?? '', /superseded/);
    assert.equal((await older.query(statusQuery)).stage, 'superseded');
    await decidePipeline(env.client, newer.workflowId, {
      decision: 'reject',
      by: 'carol',
      reason: 'only testing',
    });
    assert.equal(((await newer.result()) as PipelineResult).outcome, 'rejected');
  });

  it('a full-traffic gate holds the canary before 100% until approved', async () => {
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 30 });
    try {
      const handle = await start('approval-gate', { ...CONFIG, approval: { beforeFullTraffic: true } });
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], { timeoutMs: 300_000 });
      await decidePipeline(env.client, handle.workflowId, { decision: 'approve', by: 'dan' });
      const gated = await until<PipelineStatus>(async () => {
        const status = await queryPipelineStatus(env.client, handle.workflowId);
        return status.pending?.gate === 'full-traffic' ? status : undefined;
      }, 'the full-traffic gate');
      assert.equal(gated.rollout?.phase, 'awaiting-approval');
      assert.equal(gated.rollout?.weight, 50);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal((await readDeployment(env.storeUri, TEST_MODEL))?.canary?.weight, 50, 'held at 50%');
      const accepted = await decidePipeline(env.client, handle.workflowId, {
        decision: 'approve',
        by: 'erin',
      });
      assert.equal(accepted.gate, 'full-traffic');
      const result = (await handle.result()) as PipelineResult;
      assert.equal(result.outcome, 'production');
      assert.equal((await handle.query(statusQuery)).fullTrafficDecision?.by, 'erin');
      const record = await registry.getVersion(TEST_MODEL, result.version);
      assert.deepEqual(
        record?.approvals.map((a) => [a.gate, a.by]),
        [
          ['candidate', 'dan'],
          ['full-traffic', 'erin'],
        ],
      );
      assert.equal(await servedVersion(), result.version);
    } finally {
      const report = await traffic.stop();
      assert.equal(report.failed + report.errors, 0);
    }
  });

  it('two pipelines of one model never deploy at once; a rollback waits its turn too', async () => {
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 30 });
    try {
      const first = await start(
        'deploy-first',
        {
          ...CONFIG,
          rollout: {
            ...CONFIG.rollout,
            steps: [{ weight: 10, bakeSeconds: 300, minRequests: 1 }, { weight: 100 }],
            maxWaitSeconds: 600,
          },
        },
        false,
      );
      const rollout = env.client.workflow.getHandle(deploymentWorkflowId(TEST_MODEL));
      await until(
        async () => {
          const status = await queryPipelineStatus(env.client, first.workflowId);
          return status.stage === 'canary' && status.rollout?.phase === 'baking' ? true : undefined;
        },
        'the first canary to bake',
        300_000,
      );

      await assert.rejects(
        startRollback(env.client, { modelName: TEST_MODEL, by: 'ops', taskQueue: TEST_CONTROL_QUEUE }),
        /another deployment of ctr is running \(canaryRollout mlops-deploy-ctr\)/,
      );
      const second = await start('deploy-second', CONFIG, false);
      const queued = await waitForStage(env.client, second.workflowId, ['waiting-to-deploy'], {
        timeoutMs: 300_000,
      });
      assert.match(queued.message ?? '', /another deployment of ctr is running/);
      assert.equal(
        (await rollout.query(rolloutStatusQuery)).weight,
        10,
        'the first canary goes on undisturbed',
      );

      await rollout.signal(abortRolloutSignal, { by: 'frank', reason: 'make way' });
      await assert.rejects(first.result(), (err: unknown) => err instanceof WorkflowFailedError);
      const result = (await second.result()) as PipelineResult;
      assert.equal(result.outcome, 'production');
      assert.equal(await servedVersion(), result.version);
    } finally {
      const report = await traffic.stop();
      assert.equal(report.failed + report.errors, 0);
    }
  });

  it('`mlops rollback` restores the previous version through the deployment path and records it', async () => {
    const before = await registry.getAliases(TEST_MODEL);
    assert.ok(before.production && before.previous);
    const refused = await mlops(['rollback', '--model', TEST_MODEL, '--to', '999', '--by', 'ops']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /rollback failed: .*999/);

    const done = await mlops(['rollback', '--model', TEST_MODEL, '--by', 'ops', '--reason', 'drill']);
    assert.equal(done.code, 0, done.stderr);
    assert.match(
      done.stdout,
      new RegExp(`v${before.previous} serves production again \\(was v${before.production}\\)`),
    );
    assert.equal(await servedVersion(), before.previous);
    const aliases = await registry.getAliases(TEST_MODEL);
    assert.equal(aliases.production, before.previous);
    assert.equal(aliases.previous, before.production);
    assert.match(aliases.history.at(-1)?.reason ?? '', /rollback by ops: drill/);
    assert.equal((await registry.getVersion(TEST_MODEL, before.production))?.status, 'rolled-back');
    assert.equal((await registry.getVersion(TEST_MODEL, before.previous))?.status, 'production');

    const list = await mlops(['models', 'list', '--model', TEST_MODEL]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /rolled-back/);
    assert.match(list.stdout, /superseded|archived/);
    const show = await mlops(['models', 'show', '--model', TEST_MODEL]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`v?${before.previous}`));
    assert.match(show.stdout, /[0-9a-f]{40}/, 'the git commit');
  });
});
