/**
 * bench/evaluate: seconds and peak memory of the evaluate activity's whole path (eval shards
 * streamed record batch by record batch, both models scored per batch, metrics, slices, ground
 * truth, report files) against a bare in-memory predict of the same rows (every shard read whole,
 * both models scored over all of it, no metrics), each in a fresh process so its peak RSS is its own.
 *
 * Run: npx tsx bench/evaluate.ts [rows]   (default 3000 rows at 32 px, shards of 1000 rows)
 */
import type { DatasetExample } from '../lib/dataset/example';
import { ADS_FEATURE_SPEC } from '../lib/dataset/synthetic-spec';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { parse } from 'csv-parse/sync';
import { createEvaluateActivities, type EvaluateInput } from '../activities/evaluate/evaluate';
import type { EvaluationSummary } from '../contracts/evaluation';
import { pipelineConfigSchema } from '../contracts/pipeline-config';
import { decodeAdImage } from '../lib/dataset/image';
import { adRowSchema, type AdExample } from '../lib/dataset/schema';
import { readShard, writeShard } from '../lib/dataset/shards';
import { generateDataset } from '../lib/dataset/synthetic';
import {
  createModel,
  disposeModel,
  fitPreprocessing,
  loadModelBundle,
  loadTfBackend,
  predictProbabilities,
  saveModelBundle,
} from '../lib/model';

const IMAGE_SIZE = 32;
const SHARD_ROWS = 1000;
/** The pipeline's default architecture: scoring cost is what matters, so the models stay untrained. */
const TRAIN = pipelineConfigSchema.parse({}).train;

/** What one measuring process reports. */
interface Measurement {
  seconds: number;
  /** RSS once the backend is loaded, before any row is read. */
  startRssMb: number;
  /** The process's peak RSS (getrusage maxrss). */
  peakRssMb: number;
}

interface Work {
  dataDir: string;
  shardUris: string[];
  candidateUri: string;
  productionUri: string;
  rows: number;
}

/** A synthetic dataset decoded as ingest does it, written as eval shards, plus two models to score it. */
async function prepare(dir: string, rows: number): Promise<Work> {
  const dataDir = path.join(dir, 'data');
  await generateDataset({ outDir: dataDir, rows, seed: 11, imageSize: IMAGE_SIZE });
  const records = parse<Record<string, string>>(await fs.readFile(path.join(dataDir, 'ads.csv')), {
    columns: true,
  });
  const shardUris: string[] = [];
  let chunk: AdExample[] = [];
  let sample: AdExample[] = [];
  const flush = async () => {
    const uri = path.join(dir, 'shards', `eval-${String(shardUris.length).padStart(5, '0')}.arrow`);
    await writeShard(uri, chunk, { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC });
    shardUris.push(uri);
    if (sample.length === 0) sample = chunk;
    chunk = [];
  };
  for (const record of records) {
    const row = adRowSchema.parse(record);
    const pixels = await decodeAdImage(await fs.readFile(path.join(dataDir, row.image)), IMAGE_SIZE);
    const { ad_id, advertiser, category, placement, device, hour, headline_length, clicked } = row;
    chunk.push({ ad_id, advertiser, category, placement, device, hour, headline_length, clicked, pixels });
    if (chunk.length === SHARD_ROWS) await flush();
  }
  if (chunk.length > 0) await flush();
  const preprocessing = fitPreprocessing(sample, IMAGE_SIZE, ADS_FEATURE_SPEC);
  const uris = [path.join(dir, 'candidate'), path.join(dir, 'production')];
  for (const [index, uri] of uris.entries()) {
    const model = createModel({ ...TRAIN, seed: index + 1 }, preprocessing);
    await saveModelBundle({ model, preprocessing }, uri);
    disposeModel(model);
  }
  return { dataDir, shardUris, candidateUri: uris[0]!, productionUri: uris[1]!, rows: records.length };
}

/** The evaluate activity, end to end, in a fresh store. */
async function runActivity(work: Work, storeUri: string): Promise<void> {
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'bench-evaluate', runId: 'run' } },
    { logger: new DefaultLogger('WARN') },
  );
  const activities = createEvaluateActivities({ storeUri, servingUrls: [], adminToken: '' });
  const evaluateModel = (input: EvaluateInput) => activities.evaluateModel(input);
  await env.run<[EvaluateInput], EvaluationSummary, typeof evaluateModel>(evaluateModel, {
    candidateModelUri: work.candidateUri,
    evalUri: work.shardUris[0]!,
    evalUris: work.shardUris,
    production: { version: '1', modelUri: work.productionUri },
    thresholds: {},
    dataUri: work.dataDir,
  });
}

/** Every row in memory at once, scored by both models: the shape evaluation had before it streamed. */
async function runBare(work: Work): Promise<void> {
  const examples: DatasetExample[] = [];
  for (const uri of work.shardUris) examples.push(...(await readShard(uri)).examples);
  for (const uri of [work.candidateUri, work.productionUri]) {
    const bundle = await loadModelBundle(uri);
    try {
      await predictProbabilities(bundle, examples);
    } finally {
      disposeModel(bundle.model);
    }
  }
}

/** Child process: runs one path and prints its Measurement as JSON. */
async function measure(mode: string, workFile: string): Promise<void> {
  const work = JSON.parse(await fs.readFile(workFile, 'utf8')) as Work;
  await loadTfBackend();
  const startRssMb = process.memoryUsage().rss / 2 ** 20;
  const started = performance.now();
  if (mode === 'activity') await runActivity(work, path.join(path.dirname(workFile), `store-${process.pid}`));
  else await runBare(work);
  const seconds = (performance.now() - started) / 1000;
  const result: Measurement = { seconds, startRssMb, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  console.log(JSON.stringify(result));
}

function spawnMeasure(mode: 'activity' | 'bare', workFile: string): Measurement {
  const child = spawnSync(process.execPath, ['--import', 'tsx', __filename, 'measure', mode, workFile], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`the ${mode} measurement exited with ${child.status}`);
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Measurement;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'measure') return measure(process.argv[3]!, process.argv[4]!);
  const rows = Number(process.argv[2] ?? 3000);
  const backend = await loadTfBackend();
  console.log(`TF.js backend: ${backend.backend} (${backend.device}); ${os.cpus().length} CPUs`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-bench-evaluate-'));
  try {
    const work = await prepare(dir, rows);
    const workFile = path.join(dir, 'work.json');
    await fs.writeFile(workFile, JSON.stringify(work));
    const pixelMb = (work.rows * IMAGE_SIZE * IMAGE_SIZE * 3) / 2 ** 20;
    console.log(
      `${work.rows} eval rows at ${IMAGE_SIZE} px (${pixelMb.toFixed(0)} MB of raw pixels) in ${work.shardUris.length} shards, ` +
        `two models, conv [${TRAIN.conv.filters.join(', ')}], dense ${TRAIN.conv.denseUnits}`,
    );
    // Bare, activity, bare: the activity is measured between two baselines, so drift hits both sides alike.
    const bare = [spawnMeasure('bare', workFile)];
    const activity = spawnMeasure('activity', workFile);
    bare.push(spawnMeasure('bare', workFile));

    const bareSeconds = (bare[0]!.seconds + bare[1]!.seconds) / 2;
    const bareGrowth = Math.max(...bare.map((m) => m.peakRssMb - m.startRssMb));
    const growth = activity.peakRssMb - activity.startRssMb;
    console.log('\n| path | seconds | rows/s | ratio to bare | peak RSS MB | peak − start MB |');
    console.log('|---|---|---|---|---|---|');
    console.log(
      `| bare predict, all rows in memory (mean of 2) | ${bareSeconds.toFixed(2)} | ${(work.rows / bareSeconds).toFixed(0)} | 1.00 | ` +
        `${Math.max(...bare.map((m) => m.peakRssMb)).toFixed(0)} | ${bareGrowth.toFixed(0)} |`,
    );
    console.log(
      `| evaluate activity, end to end (metrics, slices, ground truth, reports) | ${activity.seconds.toFixed(2)} | ` +
        `${(work.rows / activity.seconds).toFixed(0)} | ${(bareSeconds / activity.seconds).toFixed(2)} | ` +
        `${activity.peakRssMb.toFixed(0)} | ${growth.toFixed(0)} |`,
    );
    console.log(
      `\nBaseline spread between its two runs: ${((Math.abs(bare[0]!.seconds - bare[1]!.seconds) / Math.min(bare[0]!.seconds, bare[1]!.seconds)) * 100).toFixed(0)}%.`,
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
