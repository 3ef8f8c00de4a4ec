/**
 * bench/canary-false-alarms: both sides of the canary judge, under CPU contention (one busy
 * process per core beside the stack) and the demo's traffic (40 predictions/s, click feedback
 * 1 s later) and rollout (10% for 8 s, 50% for 5 s, analysis every second).
 *
 * - False alarms: canaries of a candidate identical to production (the same saved model, registered
 *   as a new version) must all promote; every rollback is a false alarm (target 0 in ≥ 30).
 * - Detection: time from a real regression to 100% on stable: every canary request failing
 *   (target ≤ 2 s), +100 ms on every canary request (≤ 10 s), and a model trained on flipped labels
 *   (caught before its first canary step ends).
 *
 * Baseline, same run: the analysis interval, the floor of any detection time.
 *
 * Run: npx tsx bench/canary-false-alarms.ts [canaries] [busy processes]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { pipelineConfigSchema } from '../contracts/pipeline-config';
import {
  deploymentWorkflowId,
  rolloutStatusQuery,
  type RolloutResult,
  type RolloutStatus,
} from '../contracts/temporal';
import { writeFlippedLabelDataset } from '../lib/dataset/flipped-labels';
import { loadGroundTruth, startFeedbackSender } from '../lib/traffic/feedback-sender';
import { loadTrafficSamples } from '../lib/traffic/samples';
import { startTraffic } from '../lib/traffic/simulated-traffic';
import { startPipeline } from '../scripts/clients/pipeline-client';
import { DEMO_CONFIG } from '../scripts/demo/config';
import {
  startPipelineEnv,
  TEST_ADMIN_TOKEN,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  TINY_PIPELINE_CONFIG,
  type PipelineEnv,
} from '../test/helpers/pipeline-env';
import { makeTinyDataset } from '../test/helpers/tiny-dataset';
import { registerIdenticalCandidate, startCanaryRollout } from '../test/helpers/identical-candidate';

const CANARIES = Number(process.argv[2] ?? 30);
const BUSY_PROCESSES = Number(process.argv[3] ?? os.availableParallelism());
const RATE = 40;
const ROLLOUT = pipelineConfigSchema.parse({ rollout: DEMO_CONFIG.rollout }).rollout;
/** Trains in seconds; the rollout (the thing measured) is the demo's, with default thresholds. */
const TRAIN_CONFIG = { ...TINY_PIPELINE_CONFIG, rollout: DEMO_CONFIG.rollout };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps every core busy, as other tenants of a node would. */
function startBusyProcesses(count: number): ChildProcess[] {
  return Array.from({ length: count }, () =>
    // Each spins until its parent is gone, so a bench that is killed leaves no busy process behind.
    spawn(
      process.execPath,
      [
        '-e',
        'const p = process.ppid; for (let i = 0; ; i++) if ((i & 0xfffff) === 0 && process.ppid !== p) process.exit();',
      ],
      { stdio: 'ignore' },
    ),
  );
}

interface RolloutRun {
  version: string;
  promoted: boolean;
  reason: string;
}

async function runIdenticalCanary(env: PipelineEnv): Promise<RolloutRun> {
  const candidate = await registerIdenticalCandidate(env.storeUri, 'bench-canary-false-alarms');
  const handle = await startCanaryRollout(env.client, candidate, ROLLOUT);
  try {
    const result = (await handle.result()) as RolloutResult;
    return {
      version: candidate.version,
      promoted: true,
      reason: `promoted after ${result.comparisons.length} steps`,
    };
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : String(err);
    return { version: candidate.version, promoted: false, reason: cause };
  }
}

async function rolloutStatus(env: PipelineEnv): Promise<RolloutStatus | undefined> {
  return env.client.workflow
    .getHandle(deploymentWorkflowId(TEST_MODEL))
    .query(rolloutStatusQuery)
    .catch(() => undefined);
}

async function servesOnlyStable(env: PipelineEnv): Promise<boolean> {
  const body = (await (await fetch(`${env.servingUrl}/v1/models/${TEST_MODEL}`)).json()) as {
    model_version_status: Array<{ role: string; weight: number }>;
  };
  return body.model_version_status.every((status) => status.role !== 'canary' || status.weight === 0);
}

async function setFault(
  env: PipelineEnv,
  version: string,
  fault: { errorRate: number; extraLatencyMs: number },
) {
  const response = await fetch(`${env.servingUrl}/admin/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify({ model: TEST_MODEL, version, ...fault }),
  });
  if (!response.ok) throw new Error(`fault injection failed: ${response.status} ${await response.text()}`);
}

/** Waits until the canary bakes at its first step with some traffic, as a real regression would find it. */
async function untilCanaryBakes(env: PipelineEnv): Promise<void> {
  for (;;) {
    const status = await rolloutStatus(env);
    if (status?.phase === 'baking' && (status.live?.canary.requests ?? 0) > 5) return;
    await sleep(100);
  }
}

/** Seconds from injecting a fault into an identical candidate's canary until stable serves everything. */
async function detectFault(
  env: PipelineEnv,
  fault: { errorRate: number; extraLatencyMs: number },
): Promise<{ seconds: number; reason: string }> {
  const candidate = await registerIdenticalCandidate(env.storeUri, 'bench-canary-false-alarms');
  const handle = await startCanaryRollout(env.client, candidate, ROLLOUT);
  await untilCanaryBakes(env);
  const injectedAt = performance.now();
  await setFault(env, candidate.version, fault);
  while (!(await servesOnlyStable(env))) await sleep(25);
  const seconds = (performance.now() - injectedAt) / 1000;
  const reason = await handle.result().then(
    () => 'promoted (not detected)',
    (err: unknown) =>
      err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : String(err),
  );
  await setFault(env, candidate.version, { errorRate: 0, extraLatencyMs: 0 });
  return { seconds, reason };
}

/** Requests users sent that a version answered (the split's stable or canary side), from the server's metrics. */
async function userRequestsServedBy(env: PipelineEnv, version: string): Promise<number> {
  const text = await (await fetch(`${env.servingUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('mlops_prediction_requests_total{')) continue;
    if (line.includes(`version="${version}"`) && /role="(stable|canary)"/.test(line))
      total += Number(line.split(' ').at(-1));
  }
  return total;
}

/**
 * A model trained on flipped labels through the whole pipeline: seconds from the start of its
 * rollout (shadow, or the first canary step) to its end, where it was caught, and how many user
 * requests it served.
 */
async function detectFlippedLabels(
  env: PipelineEnv,
  flippedDir: string,
): Promise<{ seconds: number; caughtIn: string; served: number; reason: string }> {
  const handle = await startPipeline(env.client, {
    modelName: TEST_MODEL,
    dataUri: flippedDir,
    config: { ...TRAIN_CONFIG, train: { ...TRAIN_CONFIG.train, epochs: 8, learningRate: 0.02 } },
    approvalRequired: false,
    taskQueue: TEST_CONTROL_QUEUE,
    workflowId: `bench-flipped-${Date.now()}`,
  });
  let rolloutStartedAt: number | undefined;
  let status: RolloutStatus | undefined;
  for (;;) {
    const now = await rolloutStatus(env);
    if (now && (now.phase === 'shadow' || now.step >= 1) && now.stableVersion !== undefined) {
      rolloutStartedAt ??= performance.now();
      status = now;
    }
    const running = await handle
      .describe()
      .then((d) => d.status.name === 'RUNNING')
      .catch(() => true);
    if (!running) break;
    await sleep(25);
  }
  const seconds = rolloutStartedAt === undefined ? NaN : (performance.now() - rolloutStartedAt) / 1000;
  const reason = await handle.result().then(
    () => 'promoted (not detected)',
    (err: unknown) =>
      err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : String(err),
  );
  const final = (await rolloutStatus(env)) ?? status;
  const version = final?.shadow?.shadowVersion;
  const caughtIn = final?.shadow?.verdict === 'fail' ? 'shadow' : `canary step ${final?.step ?? '?'}`;
  const served = version === undefined ? NaN : await userRequestsServedBy(env, version);
  return { seconds, caughtIn, served, reason };
}

async function main(): Promise<void> {
  const busy = startBusyProcesses(BUSY_PROCESSES);
  const [env, dataset] = await Promise.all([startPipelineEnv(), makeTinyDataset({ rows: 80, seed: 2 })]);
  // Beside the dataset, not in it: the first pipeline reads every CSV under its folder.
  const flippedDir = `${dataset.dir}-flipped`;
  await writeFlippedLabelDataset(dataset.dir, flippedDir);
  const [samples, groundTruth] = await Promise.all([
    loadTrafficSamples(dataset.dir, 256),
    loadGroundTruth(dataset.dir),
  ]);
  const feedback = startFeedbackSender({ baseUrl: env.servingUrl, groundTruth, delayMs: 1_000 });
  const traffic = startTraffic({ baseUrl: env.servingUrl, model: TEST_MODEL, samples, rate: RATE, feedback });
  try {
    const first = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: dataset.dir,
      config: TRAIN_CONFIG,
      approvalRequired: false,
      taskQueue: TEST_CONTROL_QUEUE,
    });
    await first.result();

    const runs: RolloutRun[] = [];
    for (let i = 1; i <= CANARIES; i++) {
      const run = await runIdenticalCanary(env);
      runs.push(run);
      console.log(
        `identical canary ${i}/${CANARIES} (v${run.version}): ${run.promoted ? 'promoted' : 'ROLLED BACK'}; ${run.reason}`,
      );
    }
    const errors = await detectFault(env, { errorRate: 1, extraLatencyMs: 0 });
    console.log(`every request failing: ${errors.seconds.toFixed(2)} s; ${errors.reason}`);
    const latency = await detectFault(env, { errorRate: 0, extraLatencyMs: 100 });
    console.log(`+100 ms: ${latency.seconds.toFixed(2)} s; ${latency.reason}`);
    const flipped = await detectFlippedLabels(env, flippedDir);
    console.log(
      `flipped labels: ${flipped.seconds.toFixed(2)} s into its rollout, caught in ${flipped.caughtIn}; ${flipped.reason}`,
    );

    const falseAlarms = runs.filter((run) => !run.promoted).length;
    const floor = ROLLOUT.analysisIntervalSeconds;
    const firstBake = ROLLOUT.steps[0]!.bakeSeconds;
    console.log(
      `\nbench/canary-false-alarms (${BUSY_PROCESSES} busy processes on ${os.availableParallelism()} cores, ${RATE} requests/s, the demo's rollout)`,
    );
    console.log(`  identical-model canaries rolled back:  ${falseAlarms} of ${runs.length} (target 0)`);
    console.log(
      `  every request failing → stable only:   ${errors.seconds.toFixed(2)} s (target ≤ 2 s), ${(errors.seconds / floor).toFixed(1)}× the ${floor} s analysis interval`,
    );
    console.log(
      `  +100 ms latency → stable only:         ${latency.seconds.toFixed(2)} s (target ≤ 10 s), ${(latency.seconds / floor).toFixed(1)}× the interval`,
    );
    console.log(
      `  flipped labels → rolled back:          ${flipped.seconds.toFixed(2)} s into its rollout, caught in ${flipped.caughtIn}, ` +
        `${flipped.served} user requests served by it (target: before its first canary step ends, which bakes ${firstBake} s)`,
    );
  } finally {
    await traffic.stop();
    await feedback.stop();
    await env.close();
    await dataset.close();
    await fs.rm(flippedDir, { recursive: true, force: true });
    for (const child of busy) child.kill('SIGKILL');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
