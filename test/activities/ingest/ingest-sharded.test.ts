/**
 * The sharded ingest (planIngest → ingestShard × N → finishIngest) run as a workflow would, on
 * hand-made bad input and synthetic data, with every row accounted for in every test.
 */
import { adsSpecFile } from '../../helpers/ads-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createIngestActivities } from '../../../activities/ingest/ingest';
import { isEvalExample } from '../../../activities/ingest/split';
import type {
  FinishIngestInput,
  IngestShardInput,
  IngestShardResult,
  PlanIngestInput,
  QuarantinedRow,
  ShardedIngestResult,
} from '../../../contracts/ingest';
import { decodeAdImage, MAX_INPUT_PIXELS } from '../../../lib/dataset/image';
import { AD_COLUMNS, type AdExample } from '../../../lib/dataset/schema';
import { readShard } from '../../../lib/dataset/shards';
import { storageFor } from '../../../lib/storage/index';
import { startGcsEmulator, type GcsEmulatorHandle } from '../../helpers/gcs-emulator';
import { makeTinyDataset } from '../../helpers/tiny-dataset';

const IMAGE_SIZE = 16;
const HEADER = AD_COLUMNS.join(',');

let store: string;
let scratch: string;
let runCounter = 0;

interface RunOptions {
  shardRows?: number;
  runId?: string;
  /** Shards to ingest, in this order; every shard when absent. */
  only?: number[];
  /** Leave finishIngest out (a crash before it). */
  unfinished?: boolean;
  /** The artifact store; the test's local one when absent. */
  storeUri?: string;
}

function environment(runId: string) {
  return new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'sharded-ingest-test', runId } },
    { logger: new DefaultLogger('ERROR') },
  );
}

/** Calls an activity in a fresh activity context of the given workflow run. */
function call<I, R>(runId: string, activity: (input: I) => Promise<R>, input: I): Promise<R> {
  return environment(runId).run<[I], R, (input: I) => Promise<R>>(activity, input);
}

/** The ingest activities of one workflow run. */
function activitiesOf(runId: string, storeUri = store) {
  const activities = createIngestActivities({ storeUri, servingUrls: [], adminToken: 'test' });
  return {
    planIngest: (input: PlanIngestInput) => call(runId, (i) => activities.planIngest(i), input),
    ingestShard: (input: IngestShardInput) => call(runId, (i) => activities.ingestShard(i), input),
    finishIngest: (input: FinishIngestInput) => call(runId, (i) => activities.finishIngest(i), input),
  };
}

/** Runs the three activities as ingestInShards would (shards two at a time), in one workflow run. */
async function ingest(dataUri: string, options: RunOptions = {}): Promise<ShardedIngestResult> {
  const activities = activitiesOf(options.runId ?? `run-${++runCounter}`, options.storeUri);
  const plan = await activities.planIngest({
    dataUri,
    imageSize: IMAGE_SIZE,
    evalFraction: 0.25,
    shardRows: options.shardRows ?? 4,
    featureSpecUri: await adsSpecFile(),
  });
  const shards = options.only ?? Array.from({ length: plan.shardCount }, (_, i) => i);
  for (let i = 0; i < shards.length; i += 2) {
    await Promise.all(
      shards
        .slice(i, i + 2)
        .map((shardIndex) =>
          activities.ingestShard({ planUri: plan.planUri, shardIndex, imageConcurrency: 3 }),
        ),
    );
  }
  if (options.unfinished) return undefined as never;
  return activities.finishIngest({ planUri: plan.planUri });
}

async function readQuarantine(result: ShardedIngestResult): Promise<QuarantinedRow[]> {
  const rows: QuarantinedRow[] = [];
  for (const uri of result.quarantineUris) {
    const text = (await storageFor(uri).read(uri)).toString('utf8');
    rows.push(
      ...text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as QuarantinedRow),
    );
  }
  return rows;
}

async function examplesOf(uris: string[]) {
  return (await Promise.all(uris.map(readShard))).flatMap((shard) => shard.examples);
}

/** Nothing read is silently dropped: every row is in a shard or in the quarantine, once. */
async function assertAccounted(result: ShardedIngestResult): Promise<void> {
  assert.equal(
    result.rowsRead,
    result.trainRows + result.evalRows + result.quarantinedRows,
    'rows read = kept + quarantined',
  );
  const [train, evaluation, quarantine] = await Promise.all([
    examplesOf(result.trainUris),
    examplesOf(result.evalUris),
    readQuarantine(result),
  ]);
  assert.equal(train.length, result.trainRows);
  assert.equal(evaluation.length, result.evalRows);
  assert.equal(quarantine.length, result.quarantinedRows);
  const reasons: Record<string, number> = {};
  for (const row of quarantine) {
    const kind = row.reason.split(':')[0]!;
    reasons[kind] = (reasons[kind] ?? 0) + 1;
  }
  assert.deepEqual(reasons, result.quarantineReasons);
  const ids = [...train, ...evaluation].map((example) => example.ad_id);
  assert.equal(new Set(ids).size, ids.length, 'no ad_id is kept twice');
}

async function handMadeDataset(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(scratch, 'data-'));
  for (const [name, bytes] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), bytes);
  }
  return dir;
}

function solidPng(width: number, height: number, background = '#3366cc'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background } })
    .png()
    .toBuffer();
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const ad = (id: string, image = 'img/a.png', rest = 'acme,retail,feed,mobile,9,30,0') =>
  `${id},${image},${rest}`;

async function assertNonRetryable(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  const caught = await promise.then(
    () => assert.fail('expected the ingest to fail'),
    (err: unknown) => err,
  );
  assert.ok(caught instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(caught)}`);
  assert.equal(caught.nonRetryable, true, caught.message);
  for (const pattern of patterns) assert.match(caught.message, pattern);
}

describe('sharded ingest: planIngest, ingestShard, finishIngest', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-sharded-store-'));
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-sharded-data-'));
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('splits a dataset by ad_id into train and eval shards of decoded images', async () => {
    await using tiny = await makeTinyDataset({ rows: 30, seed: 5 });
    const result = await ingest(tiny.dir, { shardRows: 8 });
    assert.equal(result.shardCount, 4);
    assert.equal(result.trainUris.length, 4);
    assert.equal(result.rowsRead, 30);
    assert.equal(result.quarantinedRows, 0);
    assert.deepEqual(result.quarantineReasons, {});
    assert.deepEqual(result.skippedFiles, ['ground_truth.csv']);
    assert.equal(result.trainUri, result.trainUris[0]);
    assert.match(result.fingerprint, /^[0-9a-f]{64}$/);
    await assertAccounted(result);

    const train = (await examplesOf(result.trainUris)) as AdExample[];
    const evaluation = (await examplesOf(result.evalUris)) as AdExample[];
    assert.ok(
      train.length > 0 && evaluation.length > 0,
      `both splits non-empty: ${train.length}/${evaluation.length}`,
    );
    for (const example of train) assert.equal(isEvalExample(example.ad_id, 0.25), false, example.ad_id);
    for (const example of evaluation) assert.equal(isEvalExample(example.ad_id, 0.25), true, example.ad_id);
    assert.equal((await readShard(result.trainUri)).imageSize, IMAGE_SIZE);
    const first = [...train, ...evaluation].find((example) => example.ad_id === 'ad-000001');
    assert.ok(first, 'ad-000001 is kept');
    const image = await fs.readFile(path.join(tiny.dir, 'images', 'ad-000001.png'));
    assert.equal(first.pixels.length, IMAGE_SIZE * IMAGE_SIZE * 3);
    assert.deepEqual(
      first.pixels,
      await decodeAdImage(image, IMAGE_SIZE),
      'the image decoded as serving does',
    );
  });

  it('reuses every shard in another run on the same data, and redoes only a shard whose image changed', async () => {
    await using tiny = await makeTinyDataset({ rows: 20, seed: 7 });
    const first = await ingest(tiny.dir);
    const second = await ingest(tiny.dir);
    assert.equal(first.shardCount, 5);
    assert.equal(second.reusedShards, 5, 'a new run finds every shard by content');
    assert.deepEqual(second.trainUris, first.trainUris);
    assert.equal(second.fingerprint, first.fingerprint);
    assert.notEqual(second.planUri, first.planUri);

    await fs.writeFile(path.join(tiny.dir, 'images', 'ad-000006.png'), await solidPng(20, 20, '#ff0000'));
    const third = await ingest(tiny.dir);
    assert.equal(third.reusedShards, 4, 'ad-000006 is in shard 1 (rows 5-8): only it is redone');
    assert.notEqual(path.dirname(third.trainUris[1]!), path.dirname(first.trainUris[1]!));
    assert.deepEqual(third.trainUris.slice(2), first.trainUris.slice(2));
    assert.notEqual(third.fingerprint, first.fingerprint);
    await assertAccounted(third);
  });

  it('loses no finished shard when the worker dies mid-ingest, and redoes a shard cut short before done.json', async () => {
    await using tiny = await makeTinyDataset({ rows: 16, seed: 11 });
    // The first attempt finishes shards 0 and 1, then the worker dies.
    await ingest(tiny.dir, { runId: 'crashed', only: [0, 1], unfinished: true });

    const retried = await ingest(tiny.dir, { runId: 'crashed' });
    assert.equal(retried.reusedShards, 2, 'shards 0 and 1 are not redone');
    await assertAccounted(retried);

    // A shard cut short: its files are written but not its done.json.
    const shard3 = path.dirname(retried.trainUris[3]!);
    await fs.rm(path.join(shard3, 'done.json'));
    const again = await ingest(tiny.dir);
    assert.equal(again.reusedShards, 3, 'the shard without done.json is redone');
    assert.deepEqual(again.trainUris, retried.trainUris, 'into the same folder, with the same content');
    assert.equal(again.fingerprint, retried.fingerprint);
  });

  it('gives a retried run its plan and summary again, even once the data is gone', async () => {
    const tiny = await makeTinyDataset({ rows: 12, seed: 9 });
    const first = await ingest(tiny.dir, { runId: 'retried-run' });
    await tiny.close();
    await assert.rejects(fs.access(tiny.dir), 'the dataset is really gone');
    const retried = activitiesOf('retried-run');
    const plan = await retried.planIngest({
      dataUri: tiny.dir,
      imageSize: IMAGE_SIZE,
      evalFraction: 0.25,
      shardRows: 4,
      featureSpecUri: await adsSpecFile(),
    });
    assert.equal(plan.planUri, first.planUri);
    assert.deepEqual(await retried.finishIngest({ planUri: plan.planUri }), first);
    // A new run cannot reuse them, and says the data is missing.
    await assertNonRetryable(ingest(tiny.dir, { runId: 'another-run' }), /^No dataset at /);
  });

  it('quarantines each kind of corrupt row with its file, line and reason, across shards', async () => {
    await using tiny = await makeTinyDataset({ rows: 24, seed: 3, corrupt: 8 });
    const result = await ingest(tiny.dir, { shardRows: 5 });
    assert.equal(result.rowsRead, 24);
    assert.deepEqual(result.quarantineReasons, {
      'field count': 1,
      'invalid field': 3,
      'invalid label': 1,
      'missing image': 1,
      'corrupt image': 2,
    });
    await assertAccounted(result);
    const rows = await readQuarantine(result);
    const csvLines = (await fs.readFile(tiny.result.csvPath, 'utf8')).split('\n');
    const rowOf = new Map<string, QuarantinedRow>();
    for (const { adId, kind } of tiny.result.corrupted) {
      // The reported line is the file's line (header = 1) holding that ad.
      const row = rows.find((candidate) => csvLines[candidate.line - 1]?.startsWith(`${adId},`));
      assert.ok(row, `${kind} (${adId}) is quarantined at its line`);
      assert.equal(row.file, 'ads.csv');
      rowOf.set(kind, row);
    }
    const reasonOf = (kind: string) => rowOf.get(kind)?.reason ?? '';
    assert.match(reasonOf('too_few_fields'), /^field count: expected 9 fields, got 6/);
    assert.match(reasonOf('hour_not_numeric'), /^invalid field: hour: "\w+" is not a number/);
    assert.match(reasonOf('hour_out_of_range'), /^invalid field: hour: \d+ is above the spec's max 23/);
    assert.match(reasonOf('clicked_unknown'), /^invalid label: clicked is "yes", expected "1" or "0"/);
    assert.match(
      reasonOf('advertiser_empty'),
      /^invalid field: advertiser is blank but the spec says it is required/,
    );
    const missing = rowOf.get('image_missing');
    assert.equal(missing?.reason, `missing image: images/${missing?.adId}.png`);
    assert.match(reasonOf('image_truncated'), /^corrupt image: images\/ad-\d+\.png: unreadable image/);
    assert.match(reasonOf('image_not_png'), /^corrupt image: images\/ad-\d+\.png: not a PNG, JPEG or WebP image: the file looks of an unknown kind/);
    const lines = rows.map((row) => row.line);
    assert.deepEqual(
      lines,
      [...lines].sort((a, b) => a - b),
      'quarantine is in file order',
    );
    const kept = new Set(
      (await examplesOf([...result.trainUris, ...result.evalUris])).map((example) => example.ad_id),
    );
    for (const { adId } of tiny.result.corrupted) assert.ok(!kept.has(adId), `${adId} should be quarantined`);
    // The stage's quarantine.jsonl holds the same rows, for a person to read.
    const sample = (await fs.readFile(result.quarantineUri, 'utf8')).split('\n').filter(Boolean);
    assert.equal(sample.length, 8);
  });

  it("heartbeats a shard's progress from its worker thread, and a cancelled shard stops", async () => {
    const png = await solidPng(20, 20);
    // Progress is reported every 256 images.
    const rows = Array.from({ length: 600 }, (_, i) => ad(`h${i}`));
    const dir = await handMadeDataset({ 'ads.csv': [HEADER, ...rows, ''].join('\n'), 'img/a.png': png });
    const runId = `heartbeats-${++runCounter}`;
    const activities = createIngestActivities({ storeUri: store, servingUrls: [], adminToken: 'test' });
    const plan = await activitiesOf(runId).planIngest({
      dataUri: dir,
      imageSize: IMAGE_SIZE,
      evalFraction: 0.25,
      shardRows: 1000,
      featureSpecUri: await adsSpecFile(),
    });

    const beating = environment(runId);
    const beats: unknown[] = [];
    beating.on('heartbeat', (details: unknown) => beats.push(details));
    const result = await beating.run<
      [IngestShardInput],
      IngestShardResult,
      (input: IngestShardInput) => Promise<IngestShardResult>
    >((input) => activities.ingestShard(input), { planUri: plan.planUri, shardIndex: 0 });
    assert.equal(result.trainRows + result.evalRows, 600);
    assert.deepEqual(beats, [
      { shardIndex: 0, phase: 'decoding', images: 256 },
      { shardIndex: 0, phase: 'decoding', images: 512 },
    ]);

    const cancelled = environment(`${runId}-cancelled`);
    cancelled.on('heartbeat', () => cancelled.cancel());
    // A fresh store, so the shard is not simply found already ingested.
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-sharded-store-'));
    const otherActivities = createIngestActivities({ storeUri: other, servingUrls: [], adminToken: 'test' });
    const otherPlan = await activitiesOf(`${runId}-cancelled`, other).planIngest({
      dataUri: dir,
      imageSize: IMAGE_SIZE,
      evalFraction: 0.25,
      shardRows: 1000,
      featureSpecUri: await adsSpecFile(),
    });
    await assert.rejects(
      cancelled.run((input: IngestShardInput) => otherActivities.ingestShard(input), {
        planUri: otherPlan.planUri,
        shardIndex: 0,
      }),
    );
    await fs.rm(other, { recursive: true, force: true });
  });

  it('reads several CSVs, each with images relative to its own folder', async () => {
    const png = await solidPng(20, 20);
    const dir = await handMadeDataset({
      'ads.csv': [HEADER, ad('a1'), ad('a2'), ''].join('\n'),
      'img/a.png': png,
      'november/ads.csv': [HEADER, ad('n1'), ad('n2', 'img/missing.png'), ''].join('\n'),
      'november/img/a.png': png,
    });
    const result = await ingest(dir, { shardRows: 10 });
    assert.equal(result.shardCount, 2);
    assert.equal(result.trainRows + result.evalRows, 3);
    assert.deepEqual(await readQuarantine(result), [
      { file: 'november/ads.csv', line: 3, adId: 'n2', reason: 'missing image: img/missing.png' },
    ]);
    await assertAccounted(result);
  });

  it('keeps the first good copy of a repeated ad_id, within a shard and across shards', async () => {
    const png = await solidPng(20, 20);
    const dir = await handMadeDataset({
      'ads.csv': [
        HEADER,
        ad('a1', 'img/gone.png'), // line 2: no image, so it claims nothing
        ad('a2'),
        ad('a1', 'img/a.png', 'cobalt,food,search,tablet,3,40,1'), // line 4: the first good a1
        ad('a3'),
        ad('a1', 'img/a.png', 'dunmore,food,search,tablet,3,40,1'), // line 6: duplicate, another shard
        ad('a1'), // line 7: duplicate, same shard as line 6
        ad('a3'), // line 8: duplicate of line 5
        '',
      ].join('\n'),
      'img/a.png': png,
    });
    const result = await ingest(dir, { shardRows: 2 });
    assert.equal(result.shardCount, 4);
    assert.equal(result.rowsRead, 7);
    assert.equal(result.trainRows + result.evalRows, 3);
    assert.deepEqual(result.quarantineReasons, { 'missing image': 1, 'duplicate id': 3 });
    assert.equal(result.duplicatesAcrossShards, 2);
    const duplicates = (await readQuarantine(result)).filter((row) => row.reason.startsWith('duplicate'));
    assert.deepEqual(duplicates.map((row) => row.line).sort(), [6, 7, 8]);
    assert.ok(
      duplicates.some(
        (row) => row.line === 6 && row.reason === 'duplicate id: ad_id a1 appeared earlier (ads.csv line 4)',
      ),
      JSON.stringify(duplicates),
    );
    const kept = await examplesOf([...result.trainUris, ...result.evalUris]);
    assert.equal(
      kept.find((example) => example.ad_id === 'a1')?.advertiser,
      'cobalt',
      'line 4 is the a1 kept',
    );
    await assertAccounted(result);
    // The shared shard folders are untouched: the rewritten shards are the run's own.
    assert.ok(
      result.trainUris
        .concat(result.evalUris)
        .some((uri) => uri.includes(`${path.sep}deduplicated${path.sep}`)),
    );
  });

  it('reads a CSV with a BOM, CRLF line ends and columns in another order', async () => {
    const columns = [...AD_COLUMNS].reverse();
    const values: Record<string, string> = {
      ad_id: 'a1',
      image: 'img/a.png',
      advertiser: 'acme',
      category: 'retail',
      placement: 'feed',
      device: 'mobile',
      hour: '9',
      headline_length: '30',
      clicked: '1',
    };
    const dir = await handMadeDataset({
      'ads.csv': `\ufeff${columns.join(',')}\r\n${columns.map((c) => values[c]).join(',')}\r\n`,
      'img/a.png': await solidPng(20, 20),
    });
    const result = await ingest(dir);
    assert.equal(result.quarantinedRows, 0);
    const [example] = await examplesOf([...result.trainUris, ...result.evalUris]);
    assert.equal(example?.ad_id, 'a1');
    assert.equal(example?.advertiser, 'acme');
    assert.equal(example?.hour, 9);
    assert.equal(example?.clicked, 1);
    await assertAccounted(result);
  });

  it('counts a header-only CSV as zero rows in one empty shard', async () => {
    const result = await ingest(await handMadeDataset({ 'ads.csv': `${HEADER}\n` }));
    assert.equal(result.shardCount, 1);
    assert.equal(result.rowsRead, 0);
    assert.equal((await readShard(result.trainUri)).examples.length, 0);
    assert.equal((await readShard(result.evalUri)).examples.length, 0);
    await assertAccounted(result);
  });

  it('quarantines unreadable CSV lines, an unclosed quote included, without losing the rows after them', async () => {
    const png = await solidPng(20, 20);
    const dir = await handMadeDataset({
      'ads.csv': [
        HEADER,
        ad('a1'),
        ad('a2', 'img/a.png', 'ac"me,retail,feed,mobile,9,30,1'),
        ad('a3'),
        ad('a4', '"img/a.png'),
        ad('a5'),
        '',
      ].join('\n'),
      'img/a.png': png,
    });
    const result = await ingest(dir, { shardRows: 2 });
    assert.equal(result.rowsRead, 5);
    assert.deepEqual(result.quarantineReasons, { 'malformed CSV': 3 });
    assert.deepEqual(
      (await readQuarantine(result)).map((row) => row.line),
      [3, 5, 6],
    );
    await assertAccounted(result);
  });

  it('quarantines images that are empty, a folder, or a decompression bomb, naming its size', async () => {
    const side = 6000;
    assert.ok(side * side > MAX_INPUT_PIXELS);
    const dir = await handMadeDataset({
      'ads.csv': [
        HEADER,
        ad('a1', 'img/ok.png'),
        ad('a2', 'img/huge.png'),
        ad('a3', 'img/empty.png'),
        ad('a4', 'img'),
        '',
      ].join('\n'),
      'img/ok.png': await solidPng(20, 20),
      'img/huge.png': await solidPng(side, side),
      'img/empty.png': Buffer.alloc(0),
    });
    const result = await ingest(dir);
    const reasons = (await readQuarantine(result)).map((row) => `${row.line} ${row.reason}`);
    assert.equal(reasons.length, 3);
    assert.match(
      reasons[0]!,
      /^3 corrupt image: img\/huge\.png: image too large: 6000×6000 px exceeds the pixel limit/,
    );
    assert.match(reasons[1]!, /^4 corrupt image: img\/empty\.png: image file is empty/);
    assert.match(reasons[2]!, /^5 unreadable image file: img: /);
    await assertAccounted(result);
  });

  it('quarantines Latin-1 rows as not UTF-8 and keeps the ASCII ones', async () => {
    const png = await solidPng(20, 20);
    const latin1 = Buffer.from(
      [HEADER, ad('a1'), ad('a2', 'img/a.png', 'caf\u00e9,retail,feed,mobile,9,30,1'), ''].join('\n'),
      'latin1',
    );
    const result = await ingest(await handMadeDataset({ 'ads.csv': latin1, 'img/a.png': png }));
    assert.equal(result.trainRows + result.evalRows, 1);
    const [row] = await readQuarantine(result);
    assert.equal(row?.line, 3);
    assert.match(
      row.reason,
      /^encoding: advertiser not valid UTF-8 \(is the file Latin-1 or Windows-1252\? re-save it as UTF-8\)/,
    );
    await assertAccounted(result);
  });

  it('fails non-retryably on UTF-16, a wrong delimiter or a missing column, before ingesting anything', async () => {
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`${HEADER}\n${ad('a1')}\n`, 'utf16le'),
    ]);
    await assertNonRetryable(
      ingest(await handMadeDataset({ 'ads.csv': utf16 })),
      /ads\.csv is encoded as UTF-16 LE/,
    );
    await assertNonRetryable(
      ingest(await handMadeDataset({ 'ads.csv': `${AD_COLUMNS.join('\t')}\n` })),
      /wrong header/,
      /"\\t"-delimited where the spec says csv.delimiter ","/,
    );
    await assertNonRetryable(
      ingest(
        await handMadeDataset({ 'ads.csv': `${AD_COLUMNS.filter((c) => c !== 'clicked').join(',')}\n` }),
      ),
      /missing "clicked", which the spec names/,
    );
    await assertNonRetryable(ingest(path.join(scratch, 'absent')), /^No dataset at /);
  });

  it('fails non-retryably on an empty CSV or a wrong header, naming the file and the expected header', async () => {
    await assertNonRetryable(
      ingest(await handMadeDataset({ 'ads.csv': '' })),
      /ads\.csv is empty: no header, no rows/,
    );
    const dir = await handMadeDataset({
      'ads.csv': `${AD_COLUMNS.filter((column) => column !== 'headline_length').join(',')}\n`,
    });
    await assertNonRetryable(
      ingest(dir),
      new RegExp(`^${escape(path.join(dir, 'ads.csv'))} has the wrong header for the feature spec`),
      /missing "headline_length", which the spec names/,
    );
    await assertNonRetryable(
      ingest(await handMadeDataset({ 'ads.csv': `${HEADER},campaign\n` })),
      /wrong header/,
      /campaign/,
    );
    const missing = path.join(scratch, 'no-such-dataset');
    await assertNonRetryable(
      ingest(missing),
      new RegExp(`^No dataset at ${escape(missing)}: expected one or more \\*\\.csv files there`),
      new RegExp(escape(HEADER)),
    );
  });

  it('fails non-retryably when a CSV changes between planning and a shard', async () => {
    const png = await solidPng(20, 20);
    const dir = await handMadeDataset({
      'ads.csv': [HEADER, ad('a1'), ad('a2'), ''].join('\n'),
      'img/a.png': png,
    });
    const activities = activitiesOf(`changed-${++runCounter}`);
    const plan = await activities.planIngest({
      dataUri: dir,
      imageSize: IMAGE_SIZE,
      evalFraction: 0.25,
      shardRows: 10,
      featureSpecUri: await adsSpecFile(),
    });
    await fs.writeFile(path.join(dir, 'ads.csv'), [HEADER, ad('b1'), ad('b2'), ''].join('\n'));
    await assertNonRetryable(
      activities.ingestShard({ planUri: plan.planUri, shardIndex: 0 }),
      /ads\.csv changed since ingest planned it/,
    );
  });
});

describe('sharded ingest on GCS (fake-gcs-server)', () => {
  let gcs: GcsEmulatorHandle;
  before(async () => {
    gcs = await startGcsEmulator();
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-sharded-store-'));
  });
  after(async () => {
    await gcs.close();
    await fs.rm(store, { recursive: true, force: true });
  });

  /** Copies a local dataset folder into the bucket; returns its gs:// URI. */
  async function upload(dir: string, prefix: string): Promise<string> {
    for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      const uri = gcs.uri(`${prefix}/${path.relative(dir, file).split(path.sep).join('/')}`);
      await storageFor(uri).write(uri, await fs.readFile(file));
    }
    return gcs.uri(prefix);
  }

  it('reads gs:// data into a gs:// store with the same rows, quarantine and fingerprint as on disk', async () => {
    await using tiny = await makeTinyDataset({ rows: 24, seed: 3, corrupt: 8 });
    const onDisk = await ingest(tiny.dir, { shardRows: 5 });
    const dataUri = await upload(tiny.dir, 'datasets/november');
    const storeUri = gcs.uri('store');
    const onGcs = await ingest(dataUri, { shardRows: 5, storeUri });
    assert.ok(
      onGcs.trainUris.every((uri) => uri.startsWith(`${storeUri}/`)),
      onGcs.trainUri,
    );
    assert.ok(onGcs.quarantineUri.startsWith(`${storeUri}/`));
    for (const key of [
      'rowsRead',
      'trainRows',
      'evalRows',
      'quarantinedRows',
      'quarantineReasons',
      'fingerprint',
    ] as const) {
      assert.deepEqual(onGcs[key], onDisk[key], key);
    }
    assert.deepEqual(onGcs.skippedFiles, ['ground_truth.csv']);
    await assertAccounted(onGcs);
    const again = await ingest(dataUri, { shardRows: 5, storeUri });
    assert.equal(again.reusedShards, again.shardCount, 'a second run reuses the shards in the bucket');
  });
});
