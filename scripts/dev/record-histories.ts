/**
 * `npm run histories:record [-- SCENARIO...] [--out DIR]`: runs whole pipelines (and a manual
 * rollback, a batch prediction and a production monitor) on a throwaway dev server with real
 * workers, serving and a tiny dataset, and saves each recorded workflow's history and its
 * children's into test/histories/<scenario>.<workflowType>.json for the replay tests.
 * Dev-only: it reuses the test helpers that the end-to-end tests run pipelines with.
 */
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';
import { storeFeatureSpec } from '../commands/feature-spec-upload';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startPipeline } from '../clients/pipeline-client';
import { ModelRegistry } from '../../lib/registry/index';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import { startTraffic } from '../../lib/traffic/simulated-traffic';
import { childWorkflows, HISTORIES_DIR, saveHistory } from '../../test/helpers/histories';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  type PipelineEnv,
} from '../../test/helpers/pipeline-env';
import { makeTinyDataset } from '../../test/helpers/tiny-dataset';
import { OPERATIONS_SCENARIOS } from './histories/operations-scenarios';
import { PIPELINE_SCENARIOS } from './histories/pipeline-scenarios';
import {
  CONFIG,
  NO_APPROVAL,
  TRAFFIC_RATE,
  expectOutcome,
  result,
  type Needs,
  type RecordedRun,
  type ScenarioContext,
} from './histories/scenario-kit';

/** Every scenario, in the order they run. */
const SCENARIOS = [...PIPELINE_SCENARIOS, ...OPERATIONS_SCENARIOS];

/** Saves the recorded runs' histories and every child's; returns the files written. */
async function saveScenario(env: PipelineEnv, scenario: string, recorded: RecordedRun[], outDir: string) {
  const written: Array<{ file: string; events: number }> = [];
  const children: ReturnType<typeof childWorkflows> = [];
  for (const { workflowId, runId, suffix = '' } of recorded) {
    const { type: workflowType } = await env.client.workflow.getHandle(workflowId, runId).describe();
    const file = path.join(outDir, `${scenario}.${workflowType}${suffix}.json`);
    const history = await saveHistory(env.client, workflowId, file, runId);
    written.push({ file, events: history.events?.length ?? 0 });
    children.push(...childWorkflows(history));
  }
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
  const adsSpec = await storeFeatureSpec(ADS_FEATURE_SPEC, env.storeUri);
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
    dataUri: dataset.dir,
    withTraffic,
    start: (config = CONFIG, suffix) =>
      startPipeline(env.client, {
        modelName: TEST_MODEL,
        dataUri: dataset.dir,
        featureSpecUri: adsSpec,
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
    const ran = await scenario.run(contextFor(scenario.name));
    // Deployment ids are reused by every canary and rollback of a model: always name the run.
    const recorded = Array.isArray(ran)
      ? ran
      : [{ workflowId: ran.workflowId, runId: (await ran.describe()).runId }];
    for (const { file, events } of await saveScenario(env, scenario.name, recorded, outDir)) {
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
