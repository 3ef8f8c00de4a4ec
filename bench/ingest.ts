/**
 * bench/ingest: images per second through the sharded ingest activities (planIngest, every
 * ingestShard, finishIngest: CSV parsing, image reads through the store, hashing, decoding, Arrow
 * and quarantine writes) against a bare sharp decode-and-resize loop over the same files, measured
 * in the same run, with one and with two shards in flight. Each side gets the same number of
 * images in flight (shards × imageConcurrency), so the ratio is the cost of everything ingest does
 * besides decoding. Target ratio: 0.8 or better.
 *
 * Then the same for a tabular dataset of 100 000 rows without images (10 categorical and 5
 * numeric columns, a 20-digit id) against a bare csv-parse loop over the same file.
 *
 * Run: npx tsx bench/ingest.ts [ads|tabular] [rows] [shardRows]   (defaults: both; 3000 ads of
 * 64 px PNGs, 500 rows per shard; about three minutes on 2 CPUs)
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { parse } from 'csv-parse/sync';
import { createIngestActivities, DEFAULT_IMAGE_CONCURRENCY } from '../activities/ingest/ingest';
import { pipelineConfigSchema } from '../contracts/pipeline-config';
import { MAX_INPUT_PIXELS } from '../lib/dataset/image';
import { mapBounded } from '../activities/ingest/pool';
import { generateDataset } from '../lib/dataset/synthetic';
import { ADS_FEATURE_SPEC } from '../lib/dataset/synthetic-spec';
import { numericArgs } from './args';
import { TABULAR_SPEC, tabularCsv } from './tabular-data';
import { createReadStream } from 'node:fs';
import { parse as parseStream } from 'csv-parse';

const numbers = numericArgs();
const ROWS = numbers[0] ?? 3000;
const SHARD_ROWS = numbers[1] ?? 500;
/** The pipeline's default ingest image size. */
const IMAGE_SIZE = pipelineConfigSchema.parse({}).data.imageSize;
const PARALLEL_SHARDS = [1, 2];
// Shared machines are noisy: each point runs in rounds, the two sides back to back in alternating
// order, and the ratio is the median of the rounds' ratios, so slow drift in load cancels out.
const ROUNDS = 5;

interface Point {
  shards: number;
  ingest: number[];
  bare: number[];
}

/** Images per second of the three ingest activities on `dataDir`, `lanes` shards at a time, into a fresh store. */
async function ingestImagesPerSecond(
  dataDir: string,
  storeUri: string,
  lanes: number,
  featureSpecUri: string,
): Promise<number> {
  return ingestRowsPerSecond({
    dataUri: dataDir,
    storeUri,
    lanes,
    featureSpecUri,
    rows: ROWS,
    shardRows: SHARD_ROWS,
  });
}

/** Rows per second of the three ingest activities, `lanes` shards at a time, into a fresh store. */
async function ingestRowsPerSecond(options: {
  dataUri: string;
  storeUri: string;
  lanes: number;
  featureSpecUri: string;
  rows: number;
  shardRows: number;
}): Promise<number> {
  const { dataUri, storeUri, lanes, featureSpecUri, rows, shardRows } = options;
  const activities = createIngestActivities({ storeUri, servingUrls: [], adminToken: 'bench' });
  const call = <I, R>(activity: (input: I) => Promise<R>, input: I): Promise<R> =>
    new MockActivityEnvironment(
      { workflowExecution: { workflowId: 'bench-ingest', runId: path.basename(storeUri) } },
      { logger: new DefaultLogger('ERROR') },
    ).run<[I], R, (input: I) => Promise<R>>(activity, input);

  const started = performance.now();
  // The spec given, as the pipeline gives it: no inference pass.
  const plan = await call((input) => activities.planIngest(input), {
    dataUri,
    imageSize: IMAGE_SIZE,
    evalFraction: 0.2,
    shardRows,
    featureSpecUri,
  });
  const shards = Array.from({ length: plan.shardCount }, (_, shardIndex) => shardIndex);
  await mapBounded(shards, lanes, (shardIndex) =>
    call((input) => activities.ingestShard(input), { planUri: plan.planUri, shardIndex }),
  );
  const result = await call((input) => activities.finishIngest(input), { planUri: plan.planUri });
  const seconds = (performance.now() - started) / 1000;
  if (result.rowsRead !== rows || result.quarantinedRows !== 0) {
    throw new Error(`ingest read ${result.rowsRead} rows and quarantined ${result.quarantinedRows}`);
  }
  return (result.trainRows + result.evalRows) / seconds;
}

/** Images per second of reading each file and decoding it with sharp, `inFlight` at a time. */
async function bareImagesPerSecond(files: string[], inFlight: number): Promise<number> {
  const started = performance.now();
  await mapBounded(files, inFlight, async (file) => {
    const bytes = await fs.readFile(file);
    // The same operations as decodeAdImage, nothing else.
    await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .removeAlpha()
      .resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'fill' })
      .toColourspace('srgb')
      .raw()
      .toBuffer();
  });
  return files.length / ((performance.now() - started) / 1000);
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/**
 * Measures both sides at every PARALLEL_SHARDS point for ROUNDS rounds, back to back in alternating
 * order so drift in the machine's load hits both alike, and prints each round and then the table.
 */
async function compareInRounds(
  unit: string,
  bareName: string,
  sides: { bare: (shards: number) => Promise<number>; ingest: (shards: number) => Promise<number> },
): Promise<void> {
  const points: Point[] = PARALLEL_SHARDS.map((shards) => ({ shards, ingest: [], bare: [] }));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const point of points) {
      const order = [
        async () => point.bare.push(await sides.bare(point.shards)),
        async () => point.ingest.push(await sides.ingest(point.shards)),
      ];
      for (const side of round % 2 ? order : order.reverse()) await side();
      console.log(
        `  round ${round}, ${point.shards} shard(s): ingest ${point.ingest.at(-1)!.toFixed(0)} ${unit}, ` +
          `bare ${point.bare.at(-1)!.toFixed(0)} ${unit}, ratio ${(point.ingest.at(-1)! / point.bare.at(-1)!).toFixed(2)}`,
      );
    }
  }
  const ingestHeader = `ingest ${unit}`;
  const bareHeader = `${bareName} ${unit}`;
  console.log(
    `\nshards in flight | ${ingestHeader} | ${bareHeader} | ratio (median of rounds) | rounds min-max`,
  );
  for (const point of points) {
    const ratios = point.ingest.map((rate, i) => rate / point.bare[i]!);
    const ratio = median(ratios);
    console.log(
      `${String(point.shards).padStart(16)} | ${mean(point.ingest).toFixed(0).padStart(ingestHeader.length)} | ` +
        `${mean(point.bare).toFixed(0).padStart(bareHeader.length)} | ${ratio.toFixed(2).padStart(24)} | ` +
        `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}` +
        (ratio >= 0.8 ? '' : '  (below the 0.8 target)'),
    );
  }
}

/** The synthetic ads with their images: ingest against a bare sharp decode loop. */
async function adsBench(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-bench-ingest-'));
  try {
    const dataDir = path.join(work, 'data');
    await generateDataset({ outDir: dataDir, rows: ROWS, seed: 13 });
    const featureSpecUri = path.join(work, 'ads-features.json');
    await fs.writeFile(featureSpecUri, JSON.stringify(ADS_FEATURE_SPEC));
    const records = parse<{ image: string }>(await fs.readFile(path.join(dataDir, 'ads.csv')), {
      columns: true,
    });
    const files = records.map((record) => path.join(dataDir, record.image));
    const bytes = (await Promise.all(files.slice(0, 100).map((file) => fs.stat(file)))).reduce(
      (s, f) => s + f.size,
      0,
    );
    console.log(
      `${ROWS} ads, PNG ~${Math.round(bytes / 100)} bytes, decoded to ${IMAGE_SIZE} px; ` +
        `${Math.ceil(ROWS / SHARD_ROWS)} shards of ${SHARD_ROWS} rows, ${DEFAULT_IMAGE_CONCURRENCY} images in flight per shard; ` +
        `${os.cpus().length} CPUs, libuv pool ${process.env.UV_THREADPOOL_SIZE ?? 4}, sharp concurrency ${sharp.concurrency()}`,
    );
    await bareImagesPerSecond(files.slice(0, 200), DEFAULT_IMAGE_CONCURRENCY); // warm-up

    let store = 0;
    await compareInRounds('img/s', 'bare sharp', {
      bare: (shards) => bareImagesPerSecond(files, shards * DEFAULT_IMAGE_CONCURRENCY),
      ingest: (shards) =>
        ingestImagesPerSecond(dataDir, path.join(work, `store-${++store}`), shards, featureSpecUri),
    });
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

const TABULAR_ROWS = 100_000;
const TABULAR_SHARD_ROWS = 25_000;
/** Rows per second of reading the file and parsing its CSV with csv-parse, nothing else. */
async function bareParseRowsPerSecond(file: string): Promise<number> {
  const started = performance.now();
  let records = 0;
  for await (const _record of createReadStream(file).pipe(parseStream({ delimiter: ',', bom: true }))) {
    records++;
  }
  return (records - 1) / ((performance.now() - started) / 1000);
}

/** A tabular dataset of 100 000 rows and no images: ingest against a bare csv-parse loop. */
async function tabularBench(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-bench-ingest-tabular-'));
  try {
    const csv = path.join(work, 'data', 'rows.csv');
    await fs.mkdir(path.dirname(csv));
    await fs.writeFile(csv, tabularCsv(TABULAR_ROWS));
    const featureSpecUri = path.join(work, 'features.json');
    await fs.writeFile(featureSpecUri, JSON.stringify(TABULAR_SPEC));
    const size = (await fs.stat(csv)).size;
    console.log(
      `\n${TABULAR_ROWS} tabular rows (10 categorical, 5 numeric, a 20-digit id), ` +
        `${(size / 1e6).toFixed(1)} MB; ${TABULAR_ROWS / TABULAR_SHARD_ROWS} shards of ${TABULAR_SHARD_ROWS} rows`,
    );
    await bareParseRowsPerSecond(csv); // warm-up
    let store = 0;
    await compareInRounds('rows/s', 'bare csv-parse', {
      bare: () => bareParseRowsPerSecond(csv),
      ingest: (shards) =>
        ingestRowsPerSecond({
          dataUri: csv,
          storeUri: path.join(work, `store-${++store}`),
          lanes: shards,
          featureSpecUri,
          rows: TABULAR_ROWS,
          shardRows: TABULAR_SHARD_ROWS,
        }),
    });
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** `ads`, `tabular`, or both (the default). */
async function main(): Promise<void> {
  const only = process.argv.find((arg) => arg === 'ads' || arg === 'tabular');
  if (only !== 'tabular') await adsBench();
  if (only !== 'ads') await tabularBench();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
