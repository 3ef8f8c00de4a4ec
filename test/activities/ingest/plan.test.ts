import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DatasetError,
  PLAN_CHUNK_SHARDS,
  planDataset,
  readShardSpec,
  SHARD_PIXEL_BUDGET_BYTES,
  type IngestPlan,
} from '../../../activities/ingest/plan';
import { AD_COLUMNS } from '../../../lib/dataset/schema';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';

/** The ads' spec, as planIngest passes it on. */
const ADS_SPEC_OPTIONS = {
  spec: ADS_FEATURE_SPEC,
  featureSpecSource: 'test',
  featureSpecUri: 'features.json',
};

const HEADER = AD_COLUMNS.join(',');
const row = (id: number) => `ad-${id},images/ad-${id}.png,acme,retail,feed,mobile,9,30,${id % 2}`;

let scratch: string;

async function dataset(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(scratch, 'data-'));
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
  return dir;
}

async function plan(dataUri: string, shardRows: number): Promise<IngestPlan & { outUri: string }> {
  const outUri = await fs.mkdtemp(path.join(scratch, 'plan-'));
  return {
    ...(await planDataset({
      dataUri,
      imageSize: 16,
      evalFraction: 0.2,
      shardRows,
      outUri,
      ...ADS_SPEC_OPTIONS,
    })),
    outUri,
  };
}

async function specs(planned: IngestPlan & { outUri: string }) {
  const planUri = path.join(planned.outUri, 'plan.json');
  return Promise.all(
    Array.from({ length: planned.shardCount }, async (_, i) => (await readShardSpec(planUri, i)).spec),
  );
}

async function assertFails(promise: Promise<unknown>, ...patterns: RegExp[]) {
  const err = await promise.then(
    () => assert.fail('expected a DatasetError'),
    (caught: unknown) => caught,
  );
  assert.ok(err instanceof DatasetError, String(err));
  for (const pattern of patterns) assert.match(err.message, pattern);
}

describe('planDataset', () => {
  before(async () => {
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-plan-'));
  });
  after(async () => {
    await fs.rm(scratch, { recursive: true, force: true });
  });

  it('cuts a CSV into contiguous byte ranges of shardRows rows that cover every row once', async () => {
    const csv = [HEADER, ...Array.from({ length: 10 }, (_, i) => row(i)), ''].join('\n');
    const planned = await plan(await dataset({ 'ads.csv': csv }), 4);
    assert.equal(planned.shardCount, 3);
    assert.equal(planned.rowsPlanned, 10);
    const shards = await specs(planned);
    assert.deepEqual(
      shards.map((shard) => shard.rows),
      [4, 4, 2],
    );
    assert.deepEqual(
      shards.map((shard) => shard.lineOffset),
      [1, 5, 9],
      'line numbers continue from the previous shard',
    );
    const bytes = Buffer.from(csv);
    assert.equal(shards[0]!.start, HEADER.length + 1, 'the header is in no shard');
    assert.equal(shards.at(-1)!.end, bytes.length);
    for (let i = 1; i < shards.length; i++) assert.equal(shards[i]!.start, shards[i - 1]!.end);
    for (const shard of shards) {
      const range = bytes.subarray(shard.start, shard.end);
      assert.equal(shard.sha256, createHash('sha256').update(range).digest('hex'));
      assert.equal(range.toString().split('\n').filter(Boolean).length, shard.rows);
      assert.deepEqual(shard.header, [...AD_COLUMNS]);
    }
  });

  it('lists every CSV under the prefix in name order, subfolders included, skipping the ground truth', async () => {
    const dir = await dataset({
      'ads.csv': [HEADER, row(1), row(2), ''].join('\n'),
      '2026-11/part-b.csv': [HEADER, row(3), ''].join('\n'),
      '2026-11/part-a.csv': [HEADER, ''].join('\n'),
      'ground_truth.csv': 'ad_id,click_probability\nad-1,0.5\n',
      'images/readme.txt': 'not a CSV',
    });
    const planned = await plan(dir, 100);
    assert.deepEqual(
      planned.files.map((file) => [file.name, file.rows, file.shards]),
      [
        ['2026-11/part-a.csv', 0, 1],
        ['2026-11/part-b.csv', 1, 1],
        ['ads.csv', 2, 1],
      ],
    );
    assert.deepEqual(planned.skippedFiles, ['ground_truth.csv']);
    const shards = await specs(planned);
    assert.deepEqual(
      shards.map((shard) => [shard.index, shard.file, shard.rows]),
      [
        [0, '2026-11/part-a.csv', 0],
        [1, '2026-11/part-b.csv', 1],
        [2, 'ads.csv', 2],
      ],
      'a header-only file still gets its (empty) shard',
    );
  });

  it("cuts smaller shards for large images, so a shard's pixels stay within its memory budget", async () => {
    const outUri = await fs.mkdtemp(path.join(scratch, 'plan-'));
    const dataUri = await dataset({ 'ads.csv': [HEADER, row(1), ''].join('\n') });
    const planned = await planDataset({
      dataUri,
      imageSize: 256,
      evalFraction: 0.2,
      shardRows: 50_000,
      outUri,
      ...ADS_SPEC_OPTIONS,
    });
    assert.equal(planned.shardRows, Math.floor(SHARD_PIXEL_BUDGET_BYTES / (256 * 256 * 3)));
    const small = await planDataset({
      dataUri,
      imageSize: 32,
      evalFraction: 0.2,
      shardRows: 50_000,
      outUri,
      ...ADS_SPEC_OPTIONS,
    });
    assert.equal(small.shardRows, 50_000, 'the default fits the budget at the default image size');
  });

  it('plans a single file named by its URI', async () => {
    const dir = await dataset({
      'a.csv': [HEADER, row(1), ''].join('\n'),
      'b.csv': [HEADER, row(2), ''].join('\n'),
    });
    const planned = await plan(path.join(dir, 'b.csv'), 10);
    assert.deepEqual(
      planned.files.map((file) => file.name),
      ['b.csv'],
    );
  });

  it('keeps lines an unclosed quote swallows inside one shard and counts each as a row', async () => {
    const csv = [HEADER, row(1), row(2), 'ad-3,"images/x.png,acme', row(4), row(5), ''].join('\n');
    const planned = await plan(await dataset({ 'ads.csv': csv }), 2);
    const shards = await specs(planned);
    assert.equal(planned.rowsPlanned, 5);
    assert.deepEqual(
      shards.map((shard) => shard.rows),
      [2, 3],
    );
  });

  it('writes the shard specs in chunks, so a shard reads its own chunk only', async () => {
    const csv = [HEADER, ...Array.from({ length: PLAN_CHUNK_SHARDS + 3 }, (_, i) => row(i)), ''].join('\n');
    const planned = await plan(await dataset({ 'ads.csv': csv }), 1);
    assert.equal(planned.shardCount, PLAN_CHUNK_SHARDS + 3);
    const chunks = await fs.readdir(path.join(planned.outUri, 'plan'));
    assert.deepEqual(chunks, ['shards-00000.json', 'shards-00001.json']);
    const { spec, parameters } = await readShardSpec(
      path.join(planned.outUri, 'plan.json'),
      PLAN_CHUNK_SHARDS + 2,
    );
    assert.equal(spec.index, PLAN_CHUNK_SHARDS + 2);
    assert.equal(spec.lineOffset, PLAN_CHUNK_SHARDS + 3);
    assert.deepEqual(parameters, {
      dataUri: planned.dataUri,
      imageSize: 16,
      evalFraction: 0.2,
      spec: ADS_FEATURE_SPEC,
    });
  });

  it('fails on every bad file at once, naming each problem', async () => {
    const dir = await dataset({
      'a-missing.csv': `${AD_COLUMNS.filter((column) => column !== 'hour').join(',')}\n`,
      'b-semicolons.csv': `${AD_COLUMNS.join(';')}\n`,
      'c-empty.csv': '',
      'd-utf16.csv': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`${HEADER}\n`, 'utf16le')]),
      'e-utf16-no-bom.csv': Buffer.from(`${HEADER}\n`, 'utf16le'),
      'f-extra.csv': `${HEADER},campaign\n`,
      'g-good.csv': `${HEADER}\n`,
    });
    await assertFails(
      plan(dir, 10),
      /a-missing\.csv has the wrong header for the feature spec .*missing "hour"/,
      /b-semicolons\.csv has the wrong header for the feature spec: .*";"-delimited where the spec says csv.delimiter ","/,
      /c-empty\.csv is empty: no header, no rows/,
      /d-utf16\.csv is encoded as UTF-16 LE .* must be UTF-8/,
      /e-utf16-no-bom\.csv contains NUL bytes: it is UTF-16 without a byte order mark/,
      /f-extra\.csv has the wrong header for the feature spec .*"campaign" is not in the spec/,
    );
  });

  it('fails when there is no CSV at all, saying what it expected', async () => {
    await assertFails(
      plan(path.join(scratch, 'nothing-here'), 10),
      /^No dataset at .*nothing-here: expected one or more \*\.csv files/,
    );
    await assertFails(plan(await dataset({ 'images/a.png': 'x' }), 10), /No dataset at/);
  });
});
