/**
 * `npm run histories:record [-- SCENARIO...] [--out DIR]`: runs whole pipelines on a throwaway
 * dev server with real workers, serving and a tiny dataset, and saves each pipeline's history and
 * its children's into test/histories/<scenario>.<workflowType>.json for the replay tests.
 * Dev-only: it reuses the test helpers that the end-to-end tests run pipelines with.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { PipelineConfigInput } from '../lib/config-schema';
import { startPipeline, waitForStage } from '../lib/pipeline-client';
import { loadTrafficSamples, type TrafficSample } from '../lib/traffic/samples';
import { startTraffic } from '../lib/traffic/simulated-traffic';
import {
  approveSignal,
  PIPELINE_WORKFLOW_TYPE,
  rejectSignal,
  type PipelineResult,
} from '../workflows/definitions';
import { childWorkflows, HISTORIES_DIR, saveHistory } from '../test/helpers/histories';
import {
  startPipelineEnv,
  TEST_ADMIN_TOKEN,
  TEST_CONTROL_QUEUE,
  TEST_GPU_QUEUE,
  TEST_MODEL,
  type PipelineEnv,
} from '../test/helpers/pipeline-env';
import { makeTinyDataset } from '../test/helpers/tiny-dataset';

/** Small and fast, like the end-to-end tests': one epoch, a two-step canary. */
const CONFIG: PipelineConfigInput = {
  taskQueues: { gpu: TEST_GPU_QUEUE },
  data: { imageSize: 16, minRows: 10 },
  train: { epochs: 1, batchSize: 16, conv: { filters: [4], denseUnits: 8 } },
  evaluate: { minAuc: 0, maxAucDropVsProduction: 1 },
  rollout: {
    steps: [
      { weight: 50, bakeSeconds: 1, minRequests: 5 },
      { weight: 100, bakeSeconds: 0, minRequests: 0 },
    ],
    maxWaitSeconds: 60,
  },
};
const STAGE_TIMEOUT = { timeoutMs: 300_000 };

interface ScenarioContext {
  env: PipelineEnv;
  samples: TrafficSample[];
  /** Starts this scenario's pipeline on the tiny dataset. */
  start: (config?: PipelineConfigInput) => Promise<WorkflowHandle>;
}

interface Scenario {
  name: string;
  /** Needs a model version in production before it starts (so the canary has a stable to compare with). */
  needsProduction: boolean;
  /** Drives one pipeline to its end; throws when it ends otherwise than the scenario says. */
  run(context: ScenarioContext): Promise<WorkflowHandle>;
}

/** Runs in this order; `first-version` also puts the stable version in place for the others. */
const SCENARIOS: Scenario[] = [
  {
    name: 'first-version',
    needsProduction: false,
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
    needsProduction: true,
    async run({ env, start, samples }) {
      const handle = await start();
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 40 });
      try {
        await handle.signal(approveSignal, { by: 'recorder', comment: 'canary under light traffic' });
        expectOutcome(await result(handle), 'production');
      } finally {
        await traffic.stop();
      }
      return handle;
    },
  },
  {
    name: 'rejected',
    needsProduction: false,
    async run({ env, start }) {
      const handle = await start();
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      await handle.signal(rejectSignal, { by: 'recorder', reason: 'not convinced' });
      expectOutcome(await result(handle), 'rejected');
      return handle;
    },
  },
  {
    name: 'approval-timed-out',
    needsProduction: false,
    async run({ start }) {
      // 0.0005 h = 1.8 s: nobody decides, the approval timer fires.
      const handle = await start({ ...CONFIG, approval: { timeoutHours: 0.0005 } });
      expectOutcome(await result(handle), 'rejected');
      return handle;
    },
  },
  {
    name: 'not-blessed',
    needsProduction: false,
    async run({ start }) {
      // No model reaches AUC 1 on noisy clicks: evaluation fails the pipeline before registering.
      const handle = await start({ ...CONFIG, evaluate: { minAuc: 1, maxAucDropVsProduction: 1 } });
      expectFailure(await result(handle), /not blessed/);
      return handle;
    },
  },
  {
    name: 'rolled-back',
    needsProduction: true,
    async run({ env, start, samples }) {
      const handle = await start();
      const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      // Every request to the candidate fails: the canary's error-rate check rolls it back.
      const fault = await fetch(`${env.servingUrl}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        body: JSON.stringify({ model: TEST_MODEL, version: waiting.candidateVersion, errorRate: 1 }),
      });
      if (!fault.ok) throw new Error(`could not inject the fault: ${fault.status} ${await fault.text()}`);
      const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: 40 });
      try {
        await handle.signal(approveSignal, { by: 'recorder' });
        expectFailure(await result(handle), /rolled back/);
      } finally {
        await traffic.stop();
      }
      return handle;
    },
  },
];

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

/** Saves a pipeline's history and every child's; returns the files written. */
async function saveScenario(env: PipelineEnv, scenario: string, handle: WorkflowHandle, outDir: string) {
  const written: Array<{ file: string; events: number }> = [];
  const pipelineFile = path.join(outDir, `${scenario}.${PIPELINE_WORKFLOW_TYPE}.json`);
  const history = await saveHistory(env.client, handle.workflowId, pipelineFile);
  written.push({ file: pipelineFile, events: history.events?.length ?? 0 });
  const children = childWorkflows(history);
  for (const child of children) {
    // Numbered only when a pipeline starts the same child type more than once.
    const ofType = children.filter((other) => other.workflowType === child.workflowType);
    const suffix = ofType.length > 1 ? `-${ofType.indexOf(child) + 1}` : '';
    const file = path.join(outDir, `${scenario}.${child.workflowType}${suffix}.json`);
    const childHistory = await saveHistory(env.client, child.workflowId, file, child.runId);
    written.push({ file, events: childHistory.events?.length ?? 0 });
  }
  return written;
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
  // Workers log every activity and the failures two scenarios cause on purpose; each scenario
  // checks how its pipeline ended instead.
  Runtime.install({ logger: new DefaultLogger('ERROR') });

  const started = Date.now();
  await using dataset = await makeTinyDataset({ rows: 80, corrupt: 2 });
  await using env = await startPipelineEnv();
  const samples = await loadTrafficSamples(dataset.dir, 20);
  const contextFor = (name: string): ScenarioContext => ({
    env,
    samples,
    start: (config = CONFIG) =>
      startPipeline(env.client, {
        modelName: TEST_MODEL,
        dataUri: dataset.dir,
        config,
        taskQueue: TEST_CONTROL_QUEUE,
        workflowId: `history-${name}`,
      }),
  });

  let hasProduction = false;
  for (const scenario of selected) {
    if (scenario.needsProduction && !hasProduction) {
      console.error(`[histories] ${scenario.name} needs a production version: running first-version unsaved`);
      await SCENARIOS[0]!.run(contextFor('setup'));
      hasProduction = true;
    }
    const scenarioStarted = Date.now();
    const handle = await scenario.run(contextFor(scenario.name));
    if (scenario.name === 'first-version') hasProduction = true;
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
