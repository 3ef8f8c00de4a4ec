import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import {
  createIngestActivities,
  type IngestInput,
  type IngestResult,
  type QuarantinedRow,
} from '../../activities/ingest';
import { AD_COLUMNS } from '../../lib/dataset/schema';
import { MAX_INPUT_PIXELS } from '../../lib/dataset/image';
import { readShard } from '../../lib/dataset/shards';
import { makeTinyDataset } from '../helpers/tiny-dataset';

const IMAGE_SIZE = 16;
const HEADER = AD_COLUMNS.join(',');

let store: string;
let scratch: string;
let runCounter = 0;

/** Runs ingestDataset as the given workflow run would, against the test's store. */
async function ingest(dataUri: string, runId = `run-${++runCounter}`): Promise<IngestResult> {
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'ingest-test', runId } },
    // The activity logs each failure at WARN; the assertions below look at them instead.
    { logger: new DefaultLogger('ERROR') },
  );
  const activities = createIngestActivities({ storeUri: store, servingUrls: [], adminToken: 'test' });
  return env.run((input: IngestInput) => activities.ingestDataset(input), {
    dataUri,
    imageSize: IMAGE_SIZE,
    evalFraction: 0.25,
  });
}

async function readQuarantine(result: IngestResult): Promise<QuarantinedRow[]> {
  const text = await fs.readFile(result.quarantineUri, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as QuarantinedRow);
}

/** A dataset folder written by hand: ads.csv as given plus the named files under it. */
async function handMadeDataset(csv: string, files: Record<string, Buffer> = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(scratch, 'data-'));
  await fs.writeFile(path.join(dir, 'ads.csv'), csv);
  for (const [name, bytes] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), bytes);
  }
  return dir;
}

function solidPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();
}

/** Asserts a non-retryable ApplicationFailure whose message matches every pattern. */
async function assertNonRetryable(
  promise: Promise<unknown>,
  ...patterns: RegExp[]
): Promise<ApplicationFailure> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(caught)}`);
  assert.equal(caught.nonRetryable, true, `expected a non-retryable failure: ${caught.message}`);
  for (const pattern of patterns) assert.match(caught.message, pattern);
  return caught;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

void describe('ingestDataset', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-ingest-store-'));
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-ingest-data-'));
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
    await fs.rm(scratch, { recursive: true, force: true });
  });

  void it('splits a clean dataset into train and eval shards with the same split and fingerprint on every run', async () => {
    await using tiny = await makeTinyDataset({ rows: 40, seed: 5 });
    const first = await ingest(tiny.dir);
    const second = await ingest(tiny.dir);

    assert.equal(first.rowsRead, 40);
    assert.equal(first.quarantinedRows, 0);
    assert.deepEqual(first.quarantineReasons, {});
    assert.equal(first.trainRows + first.evalRows, 40);
    assert.ok(
      first.trainRows > 0 && first.evalRows > 0,
      `both splits non-empty: ${first.trainRows}/${first.evalRows}`,
    );
    assert.match(first.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(await fs.readFile(first.quarantineUri, 'utf8'), '');

    // Different runs write to different folders but agree on everything derived from the data.
    assert.notEqual(first.trainUri, second.trainUri);
    assert.equal(second.fingerprint, first.fingerprint);
    assert.equal(second.trainRows, first.trainRows);
    assert.equal(second.evalRows, first.evalRows);

    const [train1, eval1, train2, eval2] = await Promise.all([
      readShard(first.trainUri),
      readShard(first.evalUri),
      readShard(second.trainUri),
      readShard(second.evalUri),
    ]);
    const ids = (shard: typeof train1) => shard.examples.map((example) => example.ad_id);
    assert.deepEqual(ids(train2), ids(train1));
    assert.deepEqual(ids(eval2), ids(eval1));
    assert.equal(train1.examples.length, first.trainRows);
    assert.equal(eval1.examples.length, first.evalRows);
    assert.equal(new Set([...ids(train1), ...ids(eval1)]).size, 40, 'no ad lands in both splits');
    assert.equal(train1.imageSize, IMAGE_SIZE);
    assert.equal(train1.examples[0]!.pixels.length, IMAGE_SIZE * IMAGE_SIZE * 3);
  });

  void it('gives a different fingerprint when one image changes', async () => {
    await using tiny = await makeTinyDataset({ rows: 20, seed: 5 });
    const before = await ingest(tiny.dir);
    await fs.writeFile(path.join(tiny.dir, 'images', 'ad-000007.png'), await solidPng(20, 20));
    const afterChange = await ingest(tiny.dir);
    assert.equal(afterChange.rowsRead, before.rowsRead);
    assert.notEqual(afterChange.fingerprint, before.fingerprint);
  });

  void it('reuses the summary of an earlier attempt of the same run, even once the data is gone', async () => {
    const tiny = await makeTinyDataset({ rows: 20, seed: 9 });
    const first = await ingest(tiny.dir, 'retried-run');
    await tiny.close();
    await assert.rejects(fs.access(tiny.dir), 'the dataset is really gone');
    const retry = await ingest(tiny.dir, 'retried-run');
    assert.deepEqual(retry, first);
    // A new run cannot reuse it, and says the data is missing.
    await assertNonRetryable(ingest(tiny.dir, 'another-run'), /No dataset at/);
  });

  void it('quarantines each of the eight kinds of corrupt row with its reason and line number', async () => {
    await using tiny = await makeTinyDataset({ rows: 24, seed: 3, corrupt: 8 });
    const result = await ingest(tiny.dir);
    assert.equal(result.rowsRead, 24);
    assert.equal(result.quarantinedRows, 8);
    assert.equal(result.trainRows + result.evalRows, 16);
    assert.deepEqual(result.quarantineReasons, {
      'field count': 1,
      'invalid field': 4,
      'missing image': 1,
      'corrupt image': 2,
    });

    const rows = await readQuarantine(result);
    assert.equal(rows.length, 8);
    const csvLines = (await fs.readFile(tiny.result.csvPath, 'utf8')).split('\n');
    const byKind = new Map(tiny.result.corrupted.map(({ adId, kind }) => [kind, adId]));
    const rowOf = (kind: string) => {
      const adId = byKind.get(kind as never)!;
      // The reported line is the file's line (header = 1) holding that ad.
      const row = rows.find((candidate) => csvLines[candidate.line - 1]?.startsWith(`${adId},`));
      assert.ok(row, `no quarantined row for ${kind} (${adId}) in ${JSON.stringify(rows)}`);
      return row;
    };
    assert.match(rowOf('too_few_fields').reason, /^field count: expected 9 fields, got 6/);
    assert.match(rowOf('hour_not_numeric').reason, /^invalid field: hour: hour must be an integer/);
    assert.match(rowOf('hour_out_of_range').reason, /^invalid field: hour: hour must be <= 23/);
    assert.match(rowOf('clicked_unknown').reason, /^invalid field: clicked: clicked must be 0 or 1/);
    assert.match(rowOf('advertiser_empty').reason, /^invalid field: advertiser: advertiser is empty/);
    const missing = rowOf('image_missing');
    assert.equal(missing.reason, `missing image: images/${missing.adId}.png`);
    assert.match(rowOf('image_truncated').reason, /^corrupt image: images\/ad-\d+\.png: /);
    assert.match(rowOf('image_not_png').reason, /^corrupt image: images\/ad-\d+\.png: /);
    const lines = rows.map((row) => row.line);
    assert.deepEqual(
      lines,
      [...lines].sort((a, b) => a - b),
      'quarantine is in file order',
    );

    // The clean rows are all in the shards, the quarantined ones none.
    const shards = await Promise.all([readShard(result.trainUri), readShard(result.evalUri)]);
    const kept = new Set(shards.flatMap((shard) => shard.examples.map((example) => example.ad_id)));
    assert.equal(kept.size, 16);
    for (const { adId } of tiny.result.corrupted) assert.ok(!kept.has(adId), `${adId} should be quarantined`);
  });

  void it('quarantines a repeated ad_id and keeps its first occurrence', async () => {
    const png = await solidPng(20, 20);
    const dir = await handMadeDataset(
      [
        HEADER,
        'a1,img/a.png,acme,retail,feed,mobile,9,30,0',
        'a2,img/a.png,acme,retail,feed,mobile,9,30,1',
        'a1,img/a.png,cobalt,food,search,tablet,3,40,1',
        '',
      ].join('\n'),
      { 'img/a.png': png },
    );
    const result = await ingest(dir);
    assert.equal(result.rowsRead, 3);
    assert.equal(result.trainRows + result.evalRows, 2);
    assert.deepEqual(result.quarantineReasons, { 'duplicate ad_id': 1 });
    const [row] = await readQuarantine(result);
    assert.deepEqual(row, { line: 4, adId: 'a1', reason: 'duplicate ad_id: a1 appeared earlier' });
    const shards = await Promise.all([readShard(result.trainUri), readShard(result.evalUri)]);
    const a1 = shards.flatMap((shard) => shard.examples).find((example) => example.ad_id === 'a1');
    assert.equal(a1?.advertiser, 'acme', 'the first a1 is the one kept');
  });

  void it('quarantines a row with a stray quote and keeps reading the rows after it', async () => {
    const png = await solidPng(20, 20);
    const dir = await handMadeDataset(
      [
        HEADER,
        'a1,img/a.png,acme,retail,feed,mobile,9,30,0',
        'a2,img/a.png,ac"me,retail,feed,mobile,9,30,1',
        'a3,img/a.png,acme,retail,feed,mobile,9,30,1',
        '',
      ].join('\n'),
      { 'img/a.png': png },
    );
    const result = await ingest(dir);
    assert.equal(result.rowsRead, 3);
    assert.equal(result.trainRows + result.evalRows, 2);
    assert.deepEqual(result.quarantineReasons, { 'malformed CSV': 1 });
    const [row] = await readQuarantine(result);
    assert.equal(row?.line, 3);
    assert.match(row.reason, /^malformed CSV: .*quote/i);
  });

  void it('quarantines every line an unclosed quote swallows instead of losing them', async () => {
    const png = await solidPng(20, 20);
    const dir = await handMadeDataset(
      [
        HEADER,
        'a1,img/a.png,acme,retail,feed,mobile,9,30,0',
        'a2,img/a.png,"acme,retail,feed,mobile,9,30,1',
        'a3,img/a.png,acme,retail,feed,mobile,9,30,1',
        'a4,img/a.png,acme,retail,feed,mobile,9,30,1',
        '',
      ].join('\n'),
      { 'img/a.png': png },
    );
    const result = await ingest(dir);
    assert.equal(result.rowsRead, 4, 'every data line is counted');
    assert.equal(result.trainRows + result.evalRows, 1);
    assert.equal(result.quarantinedRows, 3);
    const rows = await readQuarantine(result);
    assert.deepEqual(
      rows.map((row) => row.line),
      [3, 4, 5],
    );
    for (const row of rows) assert.match(row.reason, /^malformed CSV: Quote Not Closed.*lines 3-5/);
  });

  void it('accepts a header-only CSV as zero rows (validation decides)', async () => {
    const dir = await handMadeDataset(`${HEADER}\n`);
    const result = await ingest(dir);
    assert.equal(result.rowsRead, 0);
    assert.equal(result.trainRows, 0);
    assert.equal(result.evalRows, 0);
    assert.equal(result.quarantinedRows, 0);
    assert.equal((await readShard(result.trainUri)).examples.length, 0);
    assert.equal((await readShard(result.evalUri)).examples.length, 0);
  });

  void it('reads a CSV with a BOM, CRLF line ends and columns in another order', async () => {
    const png = await solidPng(20, 20);
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
    const dir = await handMadeDataset(
      `\ufeff${columns.join(',')}\r\n${columns.map((c) => values[c]).join(',')}\r\n`,
      {
        'img/a.png': png,
      },
    );
    const result = await ingest(dir);
    assert.equal(result.quarantinedRows, 0);
    const [example] = [
      ...(await readShard(result.trainUri)).examples,
      ...(await readShard(result.evalUri)).examples,
    ];
    assert.equal(example?.ad_id, 'a1');
    assert.equal(example?.advertiser, 'acme');
    assert.equal(example?.hour, 9);
    assert.equal(example?.clicked, 1);
  });

  void it('fails non-retryably on an empty file', async () => {
    const dir = await handMadeDataset('');
    await assertNonRetryable(ingest(dir), /ads\.csv is empty/);
  });

  void it('fails non-retryably on a header missing a column, naming the column', async () => {
    const dir = await handMadeDataset(
      `${AD_COLUMNS.filter((column) => column !== 'headline_length').join(',')}\n`,
    );
    const failure = await assertNonRetryable(ingest(dir), /wrong header/, /missing: headline_length\)/);
    assert.ok(failure.message.includes(path.join(dir, 'ads.csv')), failure.message);
    assert.ok(failure.message.includes(`expected "${HEADER}"`), failure.message);
  });

  void it('fails non-retryably on an extra column', async () => {
    const dir = await handMadeDataset(`${HEADER},campaign\n`);
    await assertNonRetryable(ingest(dir), /wrong header/, /campaign/);
  });

  void it('fails on a semicolon-delimited CSV with a message about the header and the delimiter', async () => {
    const semicolons = (line: string) => line.replaceAll(',', ';');
    const dir = await handMadeDataset(
      `${semicolons(HEADER)}\n${semicolons('a1,img/a.png,acme,retail,feed,mobile,9,30,0')}\n`,
      { 'img/a.png': await solidPng(20, 20) },
    );
    await assertNonRetryable(
      ingest(dir),
      /wrong header/,
      new RegExp(escape(`expected "${HEADER}"`)),
      /";"-delimited/,
      /comma-separated/,
    );
  });

  void it('fails non-retryably on a missing dataset folder, naming the expected ads.csv', async () => {
    const missing = path.join(scratch, 'no-such-dataset');
    await assertNonRetryable(
      ingest(missing),
      new RegExp(`^No dataset at ${escape(missing)}: expected ${escape(path.join(missing, 'ads.csv'))}`),
      new RegExp(escape(HEADER)),
    );
  });

  void it('quarantines an image over the pixel limit as corrupt instead of decoding it', async () => {
    const side = 6000;
    assert.ok(side * side > MAX_INPUT_PIXELS);
    const dir = await handMadeDataset(
      [
        HEADER,
        'a1,img/ok.png,acme,retail,feed,mobile,9,30,0',
        'a2,img/huge.png,acme,retail,feed,mobile,9,30,1',
        '',
      ].join('\n'),
      { 'img/ok.png': await solidPng(20, 20), 'img/huge.png': await solidPng(side, side) },
    );
    const result = await ingest(dir);
    assert.equal(result.rowsRead, 2);
    assert.equal(result.trainRows + result.evalRows, 1);
    const rows = await readQuarantine(result);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.line, 3);
    assert.equal(rows[0]?.adId, 'a2');
    assert.match(rows[0].reason, /^corrupt image: img\/huge\.png: .*pixel limit/);
  });

  void it('quarantines an empty image file and an image path that is a folder', async () => {
    const dir = await handMadeDataset(
      [
        HEADER,
        'a1,img/empty.png,acme,retail,feed,mobile,9,30,0',
        'a2,img,acme,retail,feed,mobile,9,30,1',
        '',
      ].join('\n'),
      { 'img/empty.png': Buffer.alloc(0) },
    );
    const result = await ingest(dir);
    assert.equal(result.quarantinedRows, 2);
    const rows = await readQuarantine(result);
    assert.match(rows[0]!.reason, /^corrupt image: img\/empty\.png: image file is empty/);
    assert.match(rows[1]!.reason, /^unreadable image file: /);
  });
});
