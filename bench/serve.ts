/**
 * Prediction server throughput and latency, driven by autocannon, against a bare `predictProbabilities`
 * loop on the same inputs measured in the same run, once on the pure-JS CPU backend (the baseline)
 * and once on the WebAssembly one, each in its own process. Run: `npx tsx bench/serve.ts` (about
 * four minutes).
 *
 * The server runs in this process on port 0 with a tiny but realistic model (24 px images, conv [8, 16],
 * dense 32) and one-instance requests carrying real synthetic ad PNGs; autocannon runs in a worker thread
 * so the load generator does not share the server's event loop.
 */
import { ADS_FEATURE_SPEC } from '../lib/dataset/synthetic-spec';
import fs from 'node:fs/promises';
import os from 'node:os';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { startEntryPoint } from '../lib/stack/child-process';
import path from 'node:path';
import autocannon from 'autocannon';
import { pipelineConfigSchema } from '../contracts/pipeline-config';
import { decodeAdImage } from '../lib/dataset/image';
import { generateDataset } from '../lib/dataset/synthetic';
import { writeDeployment } from '../lib/registry/deployment';
import {
  createModel,
  fitPreprocessing,
  loadTfBackend,
  predictProbabilities,
  saveModelBundle,
  type ModelBundle,
  type ModelInput,
} from '../lib/model';
import { loadTrafficSamples, type TrafficSample } from '../lib/traffic/samples';
import type { BatchingOptions } from '../serving/batcher';
import { createPredictionServer } from '../serving/server';

const IMAGE_SIZE = 24;
const SAMPLES = 64;
const CONCURRENCY = [1, 8, 64];
const BATCHINGS: BatchingOptions[] = [
  { maxBatchSize: 32, maxWaitMs: 2 },
  { maxBatchSize: 32, maxWaitMs: 0 },
];
// Shared machines are noisy: each point runs in two rounds, far apart in time, and the table shows their mean.
const ROUNDS = 2;
const MEASURE_SECONDS = 4;
const WARM_UP_SECONDS = 1;
const BARE_SECONDS = 1.5;

interface ServerPoint {
  mode: string;
  connections: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  meanBatch: number;
  /** (max − min) / mean of req/s over the rounds: how far to trust a difference between rows. */
  spread: number;
}

/** The backends compared: today's pure-JS CPU path (the baseline row) and WebAssembly. */
const BACKENDS = ['cpu', 'wasm'] as const;
const RESULT_PREFIX = 'RESULT ';

/**
 * Runs the whole bench once per backend, each in its own process (a process has one TF.js
 * backend), then compares their best server rows at each concurrency.
 */
async function main(): Promise<void> {
  if (process.env.MLOPS_BENCH_SERVE_BACKEND) return measureBackend();
  const results = new Map<string, ServerPoint[]>();
  for (const backend of BACKENDS) {
    console.log(`\n=== backend ${backend} (its own process)`);
    const child = spawn(process.execPath, [...process.execArgv, __filename], {
      env: { ...process.env, MLOPS_BENCH_SERVE_BACKEND: backend, MLOPS_TF_BACKEND: backend },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(
        chunk
          .toString()
          .split('\n')
          .filter((line) => !line.startsWith(RESULT_PREFIX))
          .join('\n'),
      );
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`the ${backend} bench exited with ${code}`);
    const line = output.split('\n').find((text) => text.startsWith(RESULT_PREFIX));
    results.set(backend, JSON.parse(line!.slice(RESULT_PREFIX.length)) as ServerPoint[]);
  }
  console.log(`\nbest server mode at each concurrency, ${BACKENDS.join(' vs ')} (same run):`);
  for (const connections of CONCURRENCY) {
    const best = (backend: string) =>
      (results.get(backend) ?? [])
        .filter((point) => point.connections === connections)
        .reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
    const [baseline, candidate] = BACKENDS.map(best);
    console.log(
      `  c=${String(connections).padStart(2)}: cpu ${baseline!.requestsPerSecond.toFixed(0)} req/s (${baseline!.mode}, p50 ${baseline!.p50.toFixed(1)} ms), ` +
        `wasm ${candidate!.requestsPerSecond.toFixed(0)} req/s (${candidate!.mode}, p50 ${candidate!.p50.toFixed(1)} ms): ` +
        `${(candidate!.requestsPerSecond / baseline!.requestsPerSecond).toFixed(2)}×`,
    );
  }
}

async function measureBackend(): Promise<void> {
  const backend = await loadTfBackend();
  console.log(`TF.js backend: ${backend.backend} (${backend.device}); ${os.cpus().length} CPUs`);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-bench-serve-'));
  try {
    const { samples, inputs, bundle, storeUri } = await prepare(work);
    const bare1 = await bareDecodeAndPredictPerSecond(bundle, samples, 1);
    const processes = os.availableParallelism();
    const modes: Array<[string, ServerKind]> = [
      ['unbatched', { batching: false }],
      ...BATCHINGS.map((b): [string, ServerKind] => [
        `batched ${b.maxBatchSize}/${b.maxWaitMs}ms`,
        { batching: b },
      ]),
      [`${processes} processes, batched 32/0ms`, { batching: { maxBatchSize: 32, maxWaitMs: 0 }, processes }],
    ];
    const runs: ServerPoint[] = [];
    // Modes alternate within each concurrency level, so drift in the machine's load hits them alike.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const connections of CONCURRENCY) {
        for (const [mode, kind] of modes) {
          const run = { mode, ...(await measureServer(storeUri, samples, kind, connections)) };
          runs.push(run);
          console.log(
            `  round ${round} ${mode} c=${connections}: ${run.requestsPerSecond.toFixed(0)} req/s, batch ${run.meanBatch.toFixed(1)}`,
          );
        }
      }
    }
    const points = modes.flatMap(([mode]) =>
      CONCURRENCY.map((connections) =>
        meanOf(runs.filter((run) => run.mode === mode && run.connections === connections)),
      ),
    );
    // Batch 1 is measured before and after the server points, so slow drift does not favour either side.
    const bare = new Map([[1, (bare1 + (await bareDecodeAndPredictPerSecond(bundle, samples, 1))) / 2]]);
    for (const size of new Set(points.map((point) => Math.max(1, Math.round(point.meanBatch))))) {
      if (!bare.has(size)) bare.set(size, await bareDecodeAndPredictPerSecond(bundle, samples, size));
    }
    const predictOnly = new Map<number, number>();
    for (const size of bare.keys()) predictOnly.set(size, await bareExamplesPerSecond(bundle, inputs, size));
    printTable(points, bare, predictOnly);
    console.log(`${RESULT_PREFIX}${JSON.stringify(points)}`);
    bundle.model.dispose();
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

function meanOf(runs: readonly ServerPoint[]): ServerPoint {
  const mean = (pick: (run: ServerPoint) => number) =>
    runs.reduce((sum, run) => sum + pick(run), 0) / Math.max(1, runs.length);
  const rates = runs.map((run) => run.requestsPerSecond);
  const requestsPerSecond = mean((run) => run.requestsPerSecond);
  return {
    mode: runs[0]?.mode ?? '',
    connections: runs[0]?.connections ?? 0,
    requestsPerSecond,
    p50: mean((run) => run.p50),
    p99: mean((run) => run.p99),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    meanBatch: mean((run) => run.meanBatch),
    spread: (Math.max(...rates) - Math.min(...rates)) / requestsPerSecond,
  };
}

/** The base64 image of a replayed ads row ({"image": {"b64": …}}). */
function inlineImage(instance: Record<string, unknown>): string {
  return (instance.image as { b64: string }).b64;
}

/** A synthetic dataset, its requests and decoded inputs, and a model bundle deployed as ctr version 1. */
async function prepare(work: string): Promise<{
  samples: TrafficSample[];
  inputs: ModelInput[];
  bundle: ModelBundle;
  storeUri: string;
}> {
  const dataDir = path.join(work, 'data');
  await generateDataset({ outDir: dataDir, rows: SAMPLES, seed: 7 });
  const samples = await loadTrafficSamples(dataDir, SAMPLES);
  const inputs = await Promise.all(
    samples.map(async ({ instance }) => ({
      ...instance,
      pixels: await decodeAdImage(Buffer.from(inlineImage(instance), 'base64'), IMAGE_SIZE),
    })),
  );
  const examples = inputs.map((input, i) => ({ ...input, ad_id: `ad-${i}`, clicked: i % 2 }));
  const preprocessing = fitPreprocessing(examples, IMAGE_SIZE, ADS_FEATURE_SPEC);
  const train = pipelineConfigSchema.parse({ train: { conv: { filters: [8, 16], denseUnits: 32 } } }).train;
  const bundle = { model: createModel(train, preprocessing), preprocessing };
  const storeUri = path.join(work, 'store');
  const modelUri = path.join(storeUri, 'models', 'ctr', '1');
  await saveModelBundle(bundle, modelUri);
  await writeDeployment(storeUri, {
    model: 'ctr',
    revision: 1,
    stable: { version: '1', modelUri },
    updatedAt: new Date().toISOString(),
  });
  const png = samples[0] ? inlineImage(samples[0].instance).length : 0;
  console.log(`${samples.length} requests of one instance each, PNG ~${Math.round((png * 3) / 4)} bytes`);
  return { samples, inputs, bundle, storeUri };
}

/** Examples per second of back-to-back `predictProbabilities` calls of `batchSize` inputs. */
/**
 * Examples per second of what a request needs besides HTTP: decoding its PNG from base64 (sharp)
 * and predicting, `batchSize` at a time, in this process: the bare loop the server is held to.
 */
async function bareDecodeAndPredictPerSecond(
  bundle: ModelBundle,
  samples: readonly TrafficSample[],
  batchSize: number,
): Promise<number> {
  const batch = async (i: number) =>
    Promise.all(
      Array.from({ length: batchSize }, async (_, j) => {
        const { instance } = samples[(i * batchSize + j) % samples.length]!;
        const pixels = await decodeAdImage(Buffer.from(inlineImage(instance), 'base64'), IMAGE_SIZE);
        return { ...instance, pixels };
      }),
    );
  for (let i = 0; i < 5; i++) await predictProbabilities(bundle, await batch(i));
  let examples = 0;
  const started = performance.now();
  for (let i = 0; performance.now() - started < BARE_SECONDS * 1000; i++) {
    await predictProbabilities(bundle, await batch(i));
    examples += batchSize;
  }
  return examples / ((performance.now() - started) / 1000);
}

async function bareExamplesPerSecond(
  bundle: ModelBundle,
  inputs: readonly ModelInput[],
  batchSize: number,
): Promise<number> {
  const batch = (i: number) =>
    Array.from({ length: batchSize }, (_, j) => inputs[(i * batchSize + j) % inputs.length]!);
  for (let i = 0; i < 5; i++) await predictProbabilities(bundle, batch(i));
  let examples = 0;
  const started = performance.now();
  for (let i = 0; performance.now() - started < BARE_SECONDS * 1000; i++) {
    await predictProbabilities(bundle, batch(i));
    examples += batchSize;
  }
  return examples / ((performance.now() - started) / 1000);
}

/** A server in this process, or `processes` of them on one port (serving/main.ts, as deployed). */
interface ServerKind {
  batching: BatchingOptions | false;
  processes?: number;
}

/** Starts the server of `kind` on the store; answers its URL and how to stop it. */
async function startServer(
  storeUri: string,
  kind: ServerKind,
): Promise<{ url: string; stop: () => Promise<void> }> {
  if (kind.processes === undefined) {
    const server = createPredictionServer({
      storeUri,
      models: ['ctr'],
      adminToken: 'bench-admin-token',
      port: 0,
      pollIntervalMs: 3_600_000,
      batching: kind.batching,
    });
    const { url } = await server.start();
    return { url, stop: () => server.stop() };
  }
  const port = await freePort();
  const batching = kind.batching || { maxBatchSize: 0, maxWaitMs: 0 };
  const child = await startEntryPoint({
    name: 'bench-prediction-server',
    entry: 'serving/main.ts',
    logDir: path.join(path.dirname(storeUri), 'logs'),
    env: {
      MLOPS_STORE: storeUri,
      PORT: String(port),
      MLOPS_SERVING_PROCESSES: String(kind.processes),
      MLOPS_BATCH_MAX_SIZE: String(batching.maxBatchSize),
      MLOPS_BATCH_MAX_WAIT_MS: String(batching.maxWaitMs),
      MLOPS_POLL_INTERVAL_MS: '3600000',
      MLOPS_LOG_PREDICTIONS: 'false',
      LOG_LEVEL: 'warn',
    },
  });
  const url = `http://127.0.0.1:${port}`;
  // Ready once every process serves: a run of fresh connections all answering /readyz.
  for (let ready = 0, waited = 0; ready < 2 * kind.processes; waited += 100) {
    if (waited > 120_000) throw new Error(`the server did not start; see ${child.logFile}`);
    const ok = await readyOnFreshConnection(url);
    ready = ok ? ready + 1 : 0;
    if (!ok) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, stop: () => child.stop() };
}

/** GET /readyz on a connection of its own (no keep-alive), so any process of the port may answer. */
function readyOnFreshConnection(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    http
      .get(`${url}/readyz`, { agent: false }, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      })
      .on('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One fresh server per point, so its metrics count only that point. */
async function measureServer(
  storeUri: string,
  samples: readonly TrafficSample[],
  kind: ServerKind,
  connections: number,
): Promise<Omit<ServerPoint, 'mode'>> {
  const server = await startServer(storeUri, kind);
  try {
    const { url } = server;
    const requests = samples.map((sample) => ({
      method: 'POST' as const,
      path: '/v1/models/ctr:predict',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [sample.instance] }),
    }));
    const load = (duration: number) =>
      autocannon({ url, connections, duration, requests, workers: 1, timeout: 30 });
    await load(WARM_UP_SECONDS);
    const before = await batchCounters(url);
    const result = await load(MEASURE_SECONDS);
    const after = await batchCounters(url);
    return {
      connections,
      requestsPerSecond: result['2xx'] / result.duration,
      p50: result.latency.p50,
      p99: result.latency.p99,
      non2xx: result.non2xx + result.errors + result.timeouts,
      meanBatch: (after.sum - before.sum) / Math.max(1, after.count - before.count),
      spread: 0,
    };
  } finally {
    await server.stop();
  }
}

/** Instances and model calls so far, from the server's batch-size histogram. */
async function batchCounters(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (suffix: string) =>
    Number(new RegExp(`^mlops_prediction_batch_size_${suffix}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: read('sum'), count: read('count') };
}

function printTable(
  points: readonly ServerPoint[],
  bare: ReadonlyMap<number, number>,
  predictOnly: ReadonlyMap<number, number>,
): void {
  const bare1 = bare.get(1) ?? Number.NaN;
  console.log(
    '\nbare loops in this process (same requests, no HTTP): decode (sharp) and predict | predict only',
  );
  for (const [size, rate] of [...bare].sort(([a], [b]) => a - b)) {
    console.log(
      `  batch ${String(size).padStart(3)}: ${rate.toFixed(0).padStart(6)} | ${(predictOnly.get(size) ?? Number.NaN).toFixed(0).padStart(6)} examples/s`,
    );
  }
  const header = [
    'server',
    'conc',
    'req/s',
    '±',
    'p50 ms',
    'p99 ms',
    'batch',
    'vs bare@1',
    'vs bare@batch',
    'non-2xx',
  ];
  const rows = points.map((point) => {
    const size = Math.max(1, Math.round(point.meanBatch));
    const atBatch = bare.get(size) ?? Number.NaN;
    return [
      point.mode,
      String(point.connections),
      point.requestsPerSecond.toFixed(0),
      `${(point.spread * 50).toFixed(0)}%`,
      point.p50.toFixed(1),
      point.p99.toFixed(1),
      point.meanBatch.toFixed(1),
      `${(point.requestsPerSecond / bare1).toFixed(2)}×`,
      `${(point.requestsPerSecond / atBatch).toFixed(2)}× (@${size})`,
      String(point.non2xx),
    ];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  console.log(
    `\nreq/s = examples/s (one instance per request), mean of ${ROUNDS} rounds of ${MEASURE_SECONDS} s; ± is half` +
      ' the range between rounds; ratios are against the bare loop measured in this run.',
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
