/**
 * `npm run histories:record [-- SCENARIO...] [--out DIR]`: runs whole pipelines (and a manual
 * rollback) on a throwaway dev server with real workers, serving and a tiny dataset, and saves
 * each recorded workflow's history and its children's into
 * test/histories/<scenario>.<workflowType>.json for the replay tests.
 * Dev-only: it reuses the test helpers that the end-to-end tests run pipelines with.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { PipelineConfigInput } from '../lib/config-schema';
import {
  decidePipeline,
  queryPipelineStatus,
  startPipeline,
  startRollback,
  waitForStage,
} from '../lib/pipeline-client';
import { ModelRegistry } from '../lib/registry';
import { loadTrafficSamples } from '../lib/traffic/samples';
import { startTraffic } from '../lib/traffic/simulated-traffic';
import {
  approveSignal,
  deploymentWorkflowId,
  promoteRolloutSignal,
  rejectSignal,
  rolloutStatusQuery,
  type PipelineResult,
  type RollbackResult,
} from '../workflows/definitions';
import { childWorkflows, HISTORIES_DIR, saveHistory } from '../test/helpers/histories';
import {
  startPipelineEnv,
  TEST_ADMIN_TOKEN,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  type PipelineEnv,
  TINY_PIPELINE_CONFIG,
} from '../test/helpers/pipeline-env';
import { makeTinyDataset } from '../test/helpers/tiny-dataset';

/** Small and fast, like the end-to-end tests': one epoch, a two-step canary. */
const CONFIG: PipelineConfigInput = TINY_PIPELINE_CONFIG;
/** No reviewer: the pipeline approves itself and goes straight to its canary. */
const NO_APPROVAL: PipelineConfigInput = { ...CONFIG, approval: { required: false } };
const STAGE_TIMEOUT = { timeoutMs: 300_000 };
/** Simulated requests per second while a canary needs traffic to judge. */
const TRAFFIC_RATE = 40;

interface ScenarioContext {
  env: PipelineEnv;
  /** Starts a pipeline on the tiny dataset, as `history-<scenario>` or `history-<scenario>-<suffix>`. */
  start: (config?: PipelineConfigInput, suffix?: string) => Promise<WorkflowHandle>;
  /** Runs `body` while simulated clients call the prediction API, so a canary has data to judge. */
  withTraffic: <T>(body: () => Promise<T>) => Promise<T>;
}

/** What must already be in the registry before a scenario starts. */
type Needs = 'nothing' | 'production' | 'previous';

interface Scenario {
  name: string;
  /**
   * `production`: a version serves production, so the canary has a stable to compare with;
   * `previous`: also an earlier production version that a rollback can restore.
   */
  needs: Needs;
  /** Drives the workflow to record to its end; throws when it ends otherwise than the scenario says. */
  run(context: ScenarioContext): Promise<WorkflowHandle>;
}

/**
 * Runs in this order; the versions the earlier ones put in production serve the later ones (a
 * scenario run alone gets what it needs from unsaved setup pipelines).
 */
const SCENARIOS: Scenario[] = [
  {
    name: 'first-version',
    needs: 'nothing',
    async run({ env, start }) {
      const handle = await start();
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      await handle.signal(approveSignal, { by: 'recorder' });
      expectOutcome(await result(handle), 'production');
      return handle;
    },
  },
  {
    name: 'approved-to-production',
    needs: 'production',
    async run({ env, start, withTraffic }) {
      const handle = await start();
      const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      await withTraffic(async () => {
        // Decided through the `decide` Update, as `mlops pipeline approve` does.
        await decidePipeline(env.client, handle.workflowId, {
          decision: 'approve',
          by: 'recorder',
          comment: 'canary under light traffic',
          version: waiting.candidateVersion,
        });
        expectOutcome(await result(handle), 'production');
      });
      return handle;
    },
  },
  {
    name: 'rejected',
    needs: 'nothing',
    async run({ env, start }) {
      const handle = await start();
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      // Decided through the `reject` signal, as the Web UI's "Send a Signal" does.
      await handle.signal(rejectSignal, { by: 'recorder', reason: 'not convinced' });
      expectOutcome(await result(handle), 'rejected');
      return handle;
    },
  },
  {
    name: 'approval-timed-out',
    needs: 'nothing',
    async run({ start }) {
      // 0.0005 h = 1.8 s: nobody decides, the approval timer fires.
      const handle = await start({ ...CONFIG, approval: { timeoutHours: 0.0005 } });
      expectOutcome(await result(handle), 'rejected');
      return handle;
    },
  },
  {
    name: 'not-blessed',
    needs: 'nothing',
    async run({ start }) {
      // No model reaches AUC 1 on noisy clicks: evaluation fails the pipeline before registering.
      const handle = await start({
        ...CONFIG,
        evaluate: {
          minAuc: 1,
          maxAucDropVsProduction: 1,
          maxLogLossIncreaseVsProduction: 100,
          maxEceIncreaseVsProduction: 1,
        },
      });
      expectFailure(await result(handle), /not blessed/);
      return handle;
    },
  },
  {
    name: 'rolled-back',
    needs: 'production',
    async run({ env, start, withTraffic }) {
      const handle = await start();
      const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      // Every request to the candidate fails: the canary's error-rate check rolls it back.
      const fault = await fetch(`${env.servingUrl}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        body: JSON.stringify({ model: TEST_MODEL, version: waiting.candidateVersion, errorRate: 1 }),
      });
      if (!fault.ok) throw new Error(`could not inject the fault: ${fault.status} ${await fault.text()}`);
      await withTraffic(async () => {
        await handle.signal(approveSignal, { by: 'recorder' });
        expectFailure(await result(handle), /rolled back/);
      });
      return handle;
    },
  },
  {
    name: 'superseded',
    needs: 'nothing',
    async run({ env, start }) {
      // The recorded one: its candidate waits, then a newer candidate of the same model replaces it.
      const older = await start();
      await waitForStage(env.client, older.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      const newer = await start(CONFIG, 'newer');
      await waitForStage(env.client, newer.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      expectOutcome(await result(older), 'superseded');
      await decidePipeline(env.client, newer.workflowId, {
        decision: 'reject',
        by: 'recorder',
        reason: 'only recording',
      });
      expectOutcome(await result(newer), 'rejected');
      return older;
    },
  },
  {
    name: 'full-traffic-gate',
    needs: 'production',
    async run({ env, start, withTraffic }) {
      const handle = await start({ ...CONFIG, approval: { beforeFullTraffic: true } });
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      await withTraffic(async () => {
        await decidePipeline(env.client, handle.workflowId, { decision: 'approve', by: 'recorder' });
        // The canary holds at 50% and tells the pipeline; the second approval reaches it through
        // the pipeline, here as the `approve` signal (the first went through the Update).
        await until(async () => {
          const status = await queryPipelineStatus(env.client, handle.workflowId);
          return status.pending?.gate === 'full-traffic' ? status : undefined;
        }, 'the full-traffic gate');
        await handle.signal(approveSignal, { by: 'recorder', comment: '100% please' });
        expectOutcome(await result(handle), 'production');
      });
      return handle;
    },
  },
  {
    name: 'waiting-to-deploy',
    needs: 'production',
    async run({ env, start, withTraffic }) {
      return withTraffic(async () => {
        // A first pipeline holds the model's deployment lock with a long bake...
        const first = await start(
          {
            ...NO_APPROVAL,
            rollout: {
              ...CONFIG.rollout,
              steps: [{ weight: 10, bakeSeconds: 600, minRequests: 1 }, { weight: 100 }],
              maxWaitSeconds: 900,
            },
          },
          'first',
        );
        const rollout = env.client.workflow.getHandle(deploymentWorkflowId(TEST_MODEL));
        await until(async () => {
          const status = await queryPipelineStatus(env.client, first.workflowId);
          return status.stage === 'canary' && status.rollout?.phase === 'baking' ? true : undefined;
        }, 'the first canary to bake');
        // ...so the recorded one waits for it, then deploys once it is promoted by hand.
        const second = await start(NO_APPROVAL);
        await waitForStage(env.client, second.workflowId, ['waiting-to-deploy'], STAGE_TIMEOUT);
        if ((await rollout.query(rolloutStatusQuery)).weight !== 10)
          throw new Error('the first canary should still be at 10%');
        await rollout.signal(promoteRolloutSignal, { by: 'recorder', reason: 'make way' });
        expectOutcome(await result(first), 'production');
        expectOutcome(await result(second), 'production');
        return second;
      });
    },
  },
  {
    name: 'manual-rollback',
    needs: 'previous',
    async run({ env }) {
      // `mlops rollback --model ctr`: the previous production version comes back.
      const handle = await startRollback(env.client, {
        modelName: TEST_MODEL,
        by: 'recorder',
        reason: 'drill',
        taskQueue: TEST_CONTROL_QUEUE,
      });
      const done = (await handle.result()) as RollbackResult;
      if (!done.from || done.to === done.from)
        throw new Error(`expected a rollback from one version to another, got ${JSON.stringify(done)}`);
      return handle;
    },
  },
];

/** Polls `probe` until it answers something other than undefined. */
async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The pipeline's result, or the failure it ended with. */
async function result(handle: WorkflowHandle): Promise<PipelineResult | WorkflowFailedError> {
  try {
    return (await handle.result()) as PipelineResult;
  } catch (err) {
    if (err instanceof WorkflowFailedError) return err;
    throw err;
  }
}

function expectOutcome(
  ended: PipelineResult | WorkflowFailedError,
  outcome: PipelineResult['outcome'],
): void {
  if (ended instanceof WorkflowFailedError)
    throw new Error(`expected outcome ${outcome}, but the pipeline failed: ${ended.cause?.message}`);
  if (ended.outcome !== outcome) throw new Error(`expected outcome ${outcome}, got ${ended.outcome}`);
}

function expectFailure(ended: PipelineResult | WorkflowFailedError, message: RegExp): void {
  if (!(ended instanceof WorkflowFailedError))
    throw new Error(`expected a failure matching ${message}, but the pipeline ended ${ended.outcome}`);
  if (!message.test(ended.cause?.message ?? ''))
    throw new Error(`expected a failure matching ${message}, got: ${ended.cause?.message}`);
}

/** Saves a workflow's history (the run `handle` started) and every child's; returns the files written. */
async function saveScenario(env: PipelineEnv, scenario: string, handle: WorkflowHandle, outDir: string) {
  const written: Array<{ file: string; events: number }> = [];
  // Deployment ids are reused by every canary and rollback of a model: always name the run.
  const { runId, type: workflowType } = await handle.describe();
  const file = path.join(outDir, `${scenario}.${workflowType}.json`);
  const history = await saveHistory(env.client, handle.workflowId, file, runId);
  written.push({ file, events: history.events?.length ?? 0 });
  const children = childWorkflows(history);
  for (const child of children) {
    // Numbered only when a workflow starts the same child type more than once.
    const ofType = children.filter((other) => other.workflowType === child.workflowType);
    const suffix = ofType.length > 1 ? `-${ofType.indexOf(child) + 1}` : '';
    const childFile = path.join(outDir, `${scenario}.${child.workflowType}${suffix}.json`);
    const childHistory = await saveHistory(env.client, child.workflowId, childFile, child.runId);
    written.push({ file: childFile, events: childHistory.events?.length ?? 0 });
  }
  return written;
}

/** Whether the registry already holds what a scenario needs. */
async function satisfied(registry: ModelRegistry, needs: Needs): Promise<boolean> {
  if (needs === 'nothing') return true;
  const aliases = await registry.getAliases(TEST_MODEL);
  if (needs === 'production') return aliases.production !== undefined;
  if (!aliases.previous) return false;
  // A rollback refuses to restore a version that was itself rolled back.
  return (await registry.getVersion(TEST_MODEL, aliases.previous))?.status !== 'rolled-back';
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string', default: HISTORIES_DIR } },
  });
  const unknown = positionals.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }
  const selected = SCENARIOS.filter((s) => positionals.length === 0 || positionals.includes(s.name));
  const outDir = path.resolve(values.out);
  // Workers log every activity and the failures some scenarios cause on purpose; each scenario
  // checks how its workflow ended instead.
  Runtime.install({ logger: new DefaultLogger('ERROR') });

  const started = Date.now();
  await using dataset = await makeTinyDataset({ rows: 80, corrupt: 2 });
  await using env = await startPipelineEnv();
  const samples = await loadTrafficSamples(dataset.dir, 20);
  const registry = new ModelRegistry(env.storeUri);
  const withTraffic = async <T>(body: () => Promise<T>): Promise<T> => {
    const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: TRAFFIC_RATE });
    try {
      return await body();
    } finally {
      await traffic.stop();
    }
  };
  const contextFor = (name: string): ScenarioContext => ({
    env,
    withTraffic,
    start: (config = CONFIG, suffix) =>
      startPipeline(env.client, {
        modelName: TEST_MODEL,
        dataUri: dataset.dir,
        config,
        taskQueue: TEST_CONTROL_QUEUE,
        workflowId: `history-${name}${suffix ? `-${suffix}` : ''}`,
      }),
  });

  let setups = 0;
  for (const scenario of selected) {
    while (!(await satisfied(registry, scenario.needs))) {
      const name = `setup-${++setups}`;
      console.error(`[histories] ${scenario.name} needs ${scenario.needs}: running ${name}, unsaved`);
      const handle = await contextFor(name).start(NO_APPROVAL);
      expectOutcome(await withTraffic(() => result(handle)), 'production');
    }
    const scenarioStarted = Date.now();
    const handle = await scenario.run(contextFor(scenario.name));
    for (const { file, events } of await saveScenario(env, scenario.name, handle, outDir)) {
      console.log(`${path.relative(process.cwd(), file)}  ${events} events`);
    }
    console.error(`[histories] ${scenario.name} in ${((Date.now() - scenarioStarted) / 1000).toFixed(1)} s`);
  }
  console.error(`[histories] done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
