/**
 * bench/ingest: images per second through the sharded ingest activities (planIngest, every
 * ingestShard, finishIngest: CSV parsing, image reads through the store, hashing, decoding, Arrow
 * and quarantine writes) against a bare sharp decode-and-resize loop over the same files, measured
 * in the same run, with one and with two shards in flight. Each side gets the same number of
 * images in flight (shards × imageConcurrency), so the ratio is the cost of everything ingest does
 * besides decoding. Target ratio: 0.8 or better.
 *
 * Run: npx tsx bench/ingest.ts [rows] [shardRows]   (defaults 3000 rows of 64 px PNGs, 500 rows
 * per shard; about a minute and a half on 2 CPUs)
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

const ROWS = Number(process.argv[2] ?? 3000);
const SHARD_ROWS = Number(process.argv[3] ?? 500);
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
async function ingestImagesPerSecond(dataDir: string, storeUri: string, lanes: number): Promise<number> {
  const activities = createIngestActivities({ storeUri, servingUrls: [], adminToken: 'bench' });
  const call = <I, R>(activity: (input: I) => Promise<R>, input: I): Promise<R> =>
    new MockActivityEnvironment(
      { workflowExecution: { workflowId: 'bench-ingest', runId: path.basename(storeUri) } },
      { logger: new DefaultLogger('ERROR') },
    ).run<[I], R, (input: I) => Promise<R>>(activity, input);

  const started = performance.now();
  const plan = await call((input) => activities.planIngest(input), {
    dataUri: dataDir,
    imageSize: IMAGE_SIZE,
    evalFraction: 0.2,
    shardRows: SHARD_ROWS,
  });
  const shards = Array.from({ length: plan.shardCount }, (_, shardIndex) => shardIndex);
  await mapBounded(shards, lanes, (shardIndex) =>
    call((input) => activities.ingestShard(input), { planUri: plan.planUri, shardIndex }),
  );
  const result = await call((input) => activities.finishIngest(input), { planUri: plan.planUri });
  const seconds = (performance.now() - started) / 1000;
  if (result.rowsRead !== ROWS || result.quarantinedRows !== 0) {
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

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-bench-ingest-'));
  try {
    const dataDir = path.join(work, 'data');
    await generateDataset({ outDir: dataDir, rows: ROWS, seed: 13 });
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

    const points: Point[] = PARALLEL_SHARDS.map((shards) => ({ shards, ingest: [], bare: [] }));
    let store = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const point of points) {
        const inFlight = point.shards * DEFAULT_IMAGE_CONCURRENCY;
        // Alternate which side goes first, so drift in the machine's load hits both alike.
        const sides = [
          async () => point.bare.push(await bareImagesPerSecond(files, inFlight)),
          async () =>
            point.ingest.push(
              await ingestImagesPerSecond(dataDir, path.join(work, `store-${++store}`), point.shards),
            ),
        ];
        for (const side of round % 2 ? sides : sides.reverse()) await side();
        console.log(
          `  round ${round}, ${point.shards} shard(s): ingest ${point.ingest.at(-1)!.toFixed(0)} img/s, ` +
            `bare ${point.bare.at(-1)!.toFixed(0)} img/s, ratio ${(point.ingest.at(-1)! / point.bare.at(-1)!).toFixed(2)}`,
        );
      }
    }

    console.log(
      '\nshards in flight | ingest img/s | bare sharp img/s | ratio (median of rounds) | rounds min-max',
    );
    for (const point of points) {
      const ratios = point.ingest.map((rate, i) => rate / point.bare[i]!);
      const ratio = median(ratios);
      console.log(
        `${String(point.shards).padStart(16)} | ${mean(point.ingest).toFixed(0).padStart(12)} | ` +
          `${mean(point.bare).toFixed(0).padStart(16)} | ${ratio.toFixed(2).padStart(24)} | ` +
          `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}` +
          (ratio >= 0.8 ? '' : '  (below the 0.8 target)'),
      );
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
