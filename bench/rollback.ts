/**
 * bench/rollback: seconds from the start of an injected regression (every canary request fails)
 * until the prediction server sends 100% of traffic to stable, with the demo's rollout settings
 * and traffic rate. Baseline, measured in the same run: a bare deployment change (write the
 * state, reload the replica, wait until it serves it), i.e. the floor any rollback pays.
 *
 * Run: npx tsx bench/rollback.ts [repetitions]
 */
import { readDeployment, writeDeployment } from '../lib/registry/deployment';
import { startPipeline, waitForStage } from '../scripts/clients/pipeline-client';
import { loadTrafficSamples } from '../lib/traffic/samples';
import { startTraffic } from '../lib/traffic/simulated-traffic';
import { approveSignal, deploymentWorkflowId, rolloutStatusQuery } from '../contracts/temporal';
import {
  startPipelineEnv,
  TEST_ADMIN_TOKEN,
  TEST_CONTROL_QUEUE,
  TEST_GPU_QUEUE,
  TEST_MODEL,
  type PipelineEnv,
} from '../test/helpers/pipeline-env';
import { makeTinyDataset } from '../test/helpers/tiny-dataset';

const REPETITIONS = Number(process.argv[2] ?? 3);
/** The demo's rollout (scripts/commands/demo.ts) on tiny data so training takes seconds. */
const CONFIG = {
  taskQueues: { gpu: TEST_GPU_QUEUE },
  data: { imageSize: 16, minRows: 10 },
  train: { epochs: 1, batchSize: 16, conv: { filters: [4], denseUnits: 8 } },
  evaluate: { minAuc: 0, maxAucDropVsProduction: 1 },
  rollout: {
    steps: [
      { weight: 10, bakeSeconds: 600, minRequests: 30 },
      { weight: 50, bakeSeconds: 5, minRequests: 30 },
      { weight: 100, bakeSeconds: 0, minRequests: 0 },
    ],
    maxWaitSeconds: 1200,
  },
};
const RATE = 40;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function servesOnlyStable(env: PipelineEnv): Promise<boolean> {
  const body = (await (await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}`)).json()) as {
    model_version_status: Array<{ role: string; weight: number }>;
  };
  return body.model_version_status.every((status) => status.role !== 'canary' || status.weight === 0);
}

async function setFault(env: PipelineEnv, version: string, errorRate: number): Promise<void> {
  const response = await fetch(`${env.servingUrl}/admin/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify({ model: TEST_MODEL, version, errorRate }),
  });
  if (!response.ok) throw new Error(`fault injection failed: ${response.status} ${await response.text()}`);
}

/** One automatic rollback: seconds from fault injection to stable-only serving. */
async function measureRollback(env: PipelineEnv, dataDir: string, run: number): Promise<number> {
  const handle = await startPipeline(env.client, {
    modelName: TEST_MODEL,
    dataUri: dataDir,
    config: CONFIG,
    taskQueue: TEST_CONTROL_QUEUE,
    workflowId: `bench-rollback-${run}-${Date.now()}`,
  });
  const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval']);
  await handle.signal(approveSignal, { by: 'bench' });
  const rollout = env.client.workflow.getHandle(deploymentWorkflowId(TEST_MODEL));
  // Let the canary bake healthily for a few analyses first, as a real regression would arrive.
  for (;;) {
    const status = await rollout.query(rolloutStatusQuery).catch(() => undefined);
    if (status?.phase === 'baking' && (status.live?.canary.requests ?? 0) > 5) break;
    await sleep(100);
  }
  const injectedAt = performance.now();
  await setFault(env, waiting.candidateVersion!, 1);
  while (!(await servesOnlyStable(env))) await sleep(25);
  const seconds = (performance.now() - injectedAt) / 1000;
  await handle.result().catch(() => undefined);
  await setFault(env, waiting.candidateVersion!, 0);
  return seconds;
}

/** The floor: a deployment change applied directly, as the rollback activity does it. */
async function measureBareDeploymentChange(env: PipelineEnv): Promise<number> {
  const state = (await readDeployment(env.storeUri, TEST_MODEL))!;
  const started = performance.now();
  await writeDeployment(env.storeUri, {
    ...state,
    revision: state.revision + 1,
    updatedAt: new Date().toISOString(),
  });
  await fetch(`${env.servingUrl}/admin/reload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  for (;;) {
    const body = (await (await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}`)).json()) as {
      deployment_revision: number;
    };
    if (body.deployment_revision >= state.revision + 1) break;
    await sleep(5);
  }
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  const [env, dataset] = await Promise.all([startPipelineEnv(), makeTinyDataset({ rows: 80, seed: 2 })]);
  const traffic = startTraffic({
    baseUrl: env.servingUrl,
    model: TEST_MODEL,
    samples: await loadTrafficSamples(dataset.dir, 20),
    rate: RATE,
  });
  try {
    const first = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: dataset.dir,
      config: CONFIG,
      approvalRequired: false,
      taskQueue: TEST_CONTROL_QUEUE,
    });
    await first.result();
    const rollbacks: number[] = [];
    const bare: number[] = [];
    for (let run = 1; run <= REPETITIONS; run++) {
      rollbacks.push(await measureRollback(env, dataset.dir, run));
      bare.push(await measureBareDeploymentChange(env));
      console.log(
        `run ${run}: rollback ${rollbacks.at(-1)!.toFixed(2)} s, bare deployment change ${bare.at(-1)!.toFixed(3)} s`,
      );
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(
      `\nbench/rollback (${RATE} requests/s, canary at 10%, analysis every ${1} s, ${REPETITIONS} runs)`,
    );
    console.log(
      `  injected regression → 100% on stable: median ${median(rollbacks).toFixed(2)} s, max ${Math.max(...rollbacks).toFixed(2)} s (target < 5 s)`,
    );
    console.log(`  baseline, bare deployment change:     median ${median(bare).toFixed(3)} s`);
    console.log(`  ratio rollback / bare change:         ${(median(rollbacks) / median(bare)).toFixed(1)}×`);
  } finally {
    await traffic.stop();
    await env.close();
    await dataset.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
