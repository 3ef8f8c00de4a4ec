/**
 * `mlops demo`: the main job in one shot. Generates data if needed, starts the stack, runs a
 * full pipeline with simulated traffic during the canary, approves it, prints a summary, and
 * stops what it started.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { PipelineConfigInput } from '../../lib/config-schema';
import { generateDataset } from '../../lib/dataset/synthetic';
import { startPipeline, waitForStage } from '../../lib/pipeline-client';
import { ModelRegistry } from '../../lib/registry';
import { startLocalStack, type LocalStack } from '../../lib/stack/local-stack';
import { workflowUiUrl } from '../../lib/temporal-client';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import { startTraffic, type TrafficReport } from '../../lib/traffic/simulated-traffic';
import {
  approveSignal,
  CONTROL_TASK_QUEUE,
  type PipelineResult,
  type RolloutResult,
} from '../../workflows/definitions';

const MODEL = 'ctr';
const ADMIN_TOKEN = 'demo-admin-token';

/** Small enough for a 2-core CPU in a few minutes, big enough for the image signal to matter. */
const DEMO_CONFIG: PipelineConfigInput = {
  data: { imageSize: 24 },
  train: { epochs: 8, batchSize: 32, conv: { filters: [8, 16], denseUnits: 32 } },
  evaluate: { minAuc: 0.65 },
  rollout: {
    steps: [
      { weight: 20, bakeSeconds: 8, minRequests: 30 },
      { weight: 50, bakeSeconds: 5, minRequests: 30 },
      { weight: 100, bakeSeconds: 0, minRequests: 0 },
    ],
    maxWaitSeconds: 120,
  },
};
/** The baseline the demo's candidate is compared with, when no model is in production yet. */
const BASELINE_CONFIG: PipelineConfigInput = {
  ...DEMO_CONFIG,
  train: { ...DEMO_CONFIG.train, epochs: 1 },
  evaluate: { minAuc: 0 },
};

const say = (line: string) => console.log(`[demo] ${line}`);

async function ensureDataset(dir: string, rows: number): Promise<void> {
  const exists = await fs.access(path.join(dir, 'ads.csv')).then(
    () => true,
    () => false,
  );
  if (exists) return say(`using the dataset in ${dir}`);
  say(`generating ${rows} synthetic ads in ${dir}`);
  const result = await generateDataset({ outDir: dir, rows, seed: 7 });
  say(
    `click rate ${(result.clickRate * 100).toFixed(1)}%, AUC of the true click probabilities ${result.trueAuc.toFixed(3)} (the best any model can do)`,
  );
}

async function runBaseline(client: Client, dataDir: string): Promise<void> {
  say('no model is in production yet: training a quick 1-epoch baseline (v1) to compare the candidate with');
  const handle = await startPipeline(client, {
    modelName: MODEL,
    dataUri: dataDir,
    config: BASELINE_CONFIG,
    approvalRequired: false,
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: `demo-baseline-${Date.now()}`,
  });
  const result = (await handle.result()) as PipelineResult;
  say(`baseline v${result.version} is in production (AUC ${result.metrics.auc.toFixed(4)})`);
}

async function runCandidate(stack: LocalStack, dataDir: string) {
  const { client } = stack;
  const handle = await startPipeline(client, {
    modelName: MODEL,
    dataUri: dataDir,
    config: DEMO_CONFIG,
    taskQueue: CONTROL_TASK_QUEUE,
    workflowId: `demo-pipeline-${Date.now()}`,
  });
  say(`started pipeline ${handle.workflowId}`);
  say(`watch it in the Web UI: ${workflowUiUrl(stack.namespace, handle.workflowId, stack.uiUrl)}`);
  const waiting = await waitForStage(client, handle.workflowId, ['awaiting-approval'], {
    timeoutMs: 900_000,
  });
  say(
    `candidate v${waiting.candidateVersion} (AUC ${waiting.candidateMetrics?.auc.toFixed(4)}) waits for approval; ` +
      `production v${waiting.productionVersion ?? '—'} has AUC ${waiting.productionMetrics?.auc.toFixed(4) ?? '—'}`,
  );

  const samples = await loadTrafficSamples(dataDir, 64);
  say('starting simulated client traffic (40 requests/s) and approving as "mlops demo"');
  const traffic = startTraffic({ baseUrl: stack.servingUrl, model: MODEL, samples, rate: 40 });
  let report: TrafficReport;
  let result: PipelineResult;
  try {
    await handle.signal(approveSignal, { by: 'mlops demo', comment: 'approved by the demo script' });
    await waitForStage(client, handle.workflowId, ['canary', 'production'], { timeoutMs: 120_000 });
    say('canary rollout in progress: 20% → 50% → 100%, comparing error rates at each step');
    result = (await handle.result()) as PipelineResult;
  } finally {
    report = await traffic.stop();
  }
  const rollout = (await client.workflow.getHandle(`${handle.workflowId}-canary`).result()) as RolloutResult;
  return { handle, waiting, result, report, rollout };
}

async function predictOnce(
  stack: LocalStack,
  dataDir: string,
): Promise<{ version: string; probability: number }> {
  const [sample] = await loadTrafficSamples(dataDir, 1);
  const response = await fetch(`${stack.servingUrl}/v1/models/${MODEL}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: [sample!.instance] }),
  });
  if (!response.ok) throw new Error(`prediction failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as {
    predictions: Array<{ click_probability: number }>;
    model_version: string;
  };
  return { version: body.model_version, probability: body.predictions[0]!.click_probability };
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'generate data, start the stack, run a full pipeline with canary traffic, approve, summarise, stop',
    )
    .option('--state-dir <dir>', 'where the SQLite database, store and logs live', '.mlops')
    .option('--rows <n>', 'rows of synthetic data to generate when there is none', '3000')
    .action(async (options: { stateDir: string; rows: string }) => {
      const started = Date.now();
      const dataDir = path.resolve(options.stateDir, 'data', 'demo-ads');
      await ensureDataset(dataDir, Number(options.rows));
      const stack = await startLocalStack({
        stateDir: options.stateDir,
        temporalPort: 7233,
        uiPort: 8233,
        servingPort: 8080,
        adminToken: ADMIN_TOKEN,
        models: [MODEL],
        log: say,
      });
      try {
        const registry = new ModelRegistry(stack.storeUri);
        if (!(await registry.getProduction(MODEL))) await runBaseline(stack.client, dataDir);
        const { handle, waiting, result, report, rollout } = await runCandidate(stack, dataDir);
        const served = await predictOnce(stack, dataDir);
        const seconds = ((Date.now() - started) / 1000).toFixed(0);
        console.log(`
================ temporal-mlops demo summary ================
Model            ${MODEL} v${result.version}: ${result.outcome} (approved by ${result.decision?.by})
Eval AUC         ${result.metrics.auc.toFixed(4)} (log loss ${result.metrics.logLoss.toFixed(4)}, ${result.metrics.count} rows)
Previous model   v${waiting.productionVersion ?? '—'} AUC ${waiting.productionMetrics?.auc.toFixed(4) ?? '—'}
Canary steps     ${rollout.comparisons.map((c) => `${c.weight}%: canary ${c.canary.requests} req / ${c.canary.errors} err, stable ${c.stable.requests} req / ${c.stable.errors} err`).join('; ')}
Traffic          ${report.requests} requests, ${report.ok} ok, ${report.failed + report.errors} failed, p99 ${report.p99LatencyMs} ms
Serving now      v${served.version} (sample click probability ${served.probability.toFixed(3)})
Workflow         ${handle.workflowId}
Registry/store   ${stack.storeUri}
Logs             ${stack.logDir}
Took             ${seconds}s
The stack is stopped now; run 'npm run dev' to keep it up and browse the Web UI at http://localhost:8233.
==============================================================`);
      } finally {
        say('stopping the stack');
        await stack.stop();
      }
    });
}
