/**
 * `mlops demo`: the main job in one shot. Generates data if needed, starts the stack, runs a
 * full pipeline with simulated traffic and click feedback during the canary, approves it,
 * prints a summary, and stops what it started. `--bad-candidate` shows the automatic rollback.
 */
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';
import { storeFeatureSpec } from './feature-spec-upload';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { generateDataset } from '../../lib/dataset/synthetic';
import { startPipeline } from '../clients/pipeline-client';
import { ModelRegistry } from '../../lib/registry';
import { startLocalStack, type LocalStack } from '../../lib/stack/local-stack';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import { CONTROL_TASK_QUEUE, GPU_TASK_QUEUE, type PipelineResult } from '../../contracts/temporal';
import { writeFlippedLabelDataset } from '../../lib/dataset/flipped-labels';
import { BASELINE_CONFIG, DEMO_CONFIG } from '../demo/config';
import { runCandidate } from '../demo/run-candidate';
import { formatSummary } from '../demo/summary';

const MODEL = 'ctr';
const ADMIN_TOKEN = 'demo-admin-token';

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

async function runBaseline(client: Client, dataDir: string, featureSpecUri: string): Promise<void> {
  say('no model is in production yet: training a quick 1-epoch baseline to compare the candidate with');
  const handle = await startPipeline(client, {
    modelName: MODEL,
    dataUri: dataDir,
    featureSpecUri,
    config: BASELINE_CONFIG,
    approvalRequired: false,
    taskQueue: CONTROL_TASK_QUEUE,
    gpuTaskQueue: GPU_TASK_QUEUE,
    workflowId: `demo-baseline-${Date.now()}`,
  });
  const result = (await handle.result()) as PipelineResult;
  say(`baseline v${result.version} is in production (AUC ${result.metrics.auc.toFixed(4)})`);
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
    .option(
      '--bad-candidate',
      'train the candidate on labels flipped by a simulated upstream bug, and watch the canary roll it back',
    )
    .action(async (options: { stateDir: string; rows: string; badCandidate?: boolean }) => {
      const started = Date.now();
      const dataDir = path.resolve(options.stateDir, 'data', 'demo-ads');
      await ensureDataset(dataDir, Number(options.rows));
      let trainDataDir = dataDir;
      if (options.badCandidate) {
        trainDataDir = path.resolve(options.stateDir, 'data', 'demo-ads-flipped-labels');
        await writeFlippedLabelDataset(dataDir, trainDataDir);
        say(
          `--bad-candidate: the candidate trains on ${trainDataDir}, where an "upstream bug" flipped every label`,
        );
      }
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
        // The ads are described by a spec like anyone's data: the one `mlops data describe` infers, plus slices and an output name.
        const featureSpecUri = await storeFeatureSpec(ADS_FEATURE_SPEC, stack.storeUri);
        if (!(await new ModelRegistry(stack.storeUri).getProduction(MODEL)))
          await runBaseline(stack.client, dataDir, featureSpecUri);
        const run = await runCandidate(stack, {
          featureSpecUri,
          model: MODEL,
          trainDataDir,
          liveDataDir: dataDir,
          config: DEMO_CONFIG,
          say,
        });
        const served = await predictOnce(stack, dataDir);
        const metrics = run.waiting.candidateVersion
          ? (await new ModelRegistry(stack.storeUri).getVersion(MODEL, run.waiting.candidateVersion))?.metrics
          : undefined;
        const bestPossible = metrics?.bestPossible as { auc?: number } | undefined;
        console.log(
          formatSummary({
            model: MODEL,
            run,
            served,
            storeUri: stack.storeUri,
            logDir: stack.logDir,
            seconds: (Date.now() - started) / 1000,
            evaluation: {
              ...(typeof bestPossible?.auc === 'number' ? { bestPossibleAuc: bestPossible.auc } : {}),
              ...(typeof metrics?.reportHtmlUri === 'string' ? { reportUri: metrics.reportHtmlUri } : {}),
            },
          }),
        );
        if (!run.result && !options.badCandidate) process.exitCode = 1;
        if (run.result && options.badCandidate) {
          say('the bad candidate was not caught: the canary thresholds may be too loose for this data');
          process.exitCode = 1;
        }
      } finally {
        say('stopping the stack');
        await stack.stop();
      }
    });
}
