import fs from 'node:fs/promises';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import { decodeAdImage } from '../../../lib/dataset/image';
import { adRowSchema, type AdExample } from '../../../lib/dataset/schema';
import {
  SHARD_BATCH_ROWS,
  ShardFormatError,
  readShard,
  streamShard,
  writeShard,
} from '../../../lib/dataset/shards';
import { NotFoundError } from '../../../lib/storage';
import { featureSpecSchema, FEATURE_SPEC_FORMAT } from '../../../contracts/feature-spec';
import { makeTinyDataset } from '../../helpers/tiny-dataset';

const IMAGE_SIZE = 16;

/** Examples decoded from a real generated dataset, as ingest would produce them. */
async function loadExamples(rows: number): Promise<AdExample[]> {
  await using tiny = await makeTinyDataset({ rows, seed: 11 });
  const records = parse<Record<string, string>>(await fs.readFile(tiny.result.csvPath), { columns: true });
  return Promise.all(
    records.map(async (record) => {
      const row = adRowSchema.parse(record);
      const pixels = await decodeAdImage(await fs.readFile(path.join(tiny.dir, row.image)), IMAGE_SIZE);
      const { ad_id, advertiser, category, placement, device, hour, headline_length, clicked } = row;
      return { ad_id, advertiser, category, placement, device, hour, headline_length, clicked, pixels };
    }),
  );
}

void describe('Arrow shards', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-shards-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('round-trips examples and the image size through a standard Arrow IPC file', async () => {
    const examples = await loadExamples(20);
    const uri = path.join(dir, 'train-00000.arrow');
    await writeShard(uri, examples, { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC });
    const bytes = await fs.readFile(uri);
    assert.equal(bytes.subarray(0, 6).toString('latin1'), 'ARROW1');
    assert.equal(bytes.subarray(-6).toString('latin1'), 'ARROW1');
    const shard = await readShard(uri);
    assert.equal(shard.imageSize, IMAGE_SIZE);
    assert.deepEqual(shard.examples, examples);
  });

  void it('round-trips text, ids and categories in any script, blanks included, readable by plain Arrow', async () => {
    const spec = featureSpecSchema.parse({
      format: FEATURE_SPEC_FORMAT,
      label: { column: 'liked', positive: '1' },
      id: 'review id',
      features: [
        { column: 'review', kind: 'text' },
        { column: 'city', kind: 'categorical' },
        { column: 'stars', kind: 'numeric' },
      ],
    });
    const texts = [
      'plain',
      'café crème',
      '日本語のレビュー',
      '🙂 emoji 🙃',
      '',
      null,
      'a\u0000b',
      'ascii again',
    ];
    const cities = ['Zürich', 'Köln', null, 'Zürich', 'NYC', 'Łódź', 'Köln', ''];
    const examples = texts.map((review, i) => ({
      'review id': i % 2 ? `id-${i}` : `ид-${i}`,
      review,
      city: cities[i]!,
      stars: i === 3 ? null : i + 0.5,
      liked: i % 2,
    }));
    const uri = path.join(dir, 'scripts.arrow');
    await writeShard(uri, examples, { imageSize: 32, spec });
    assert.deepEqual((await readShard(uri)).examples, examples);
    const table = tableFromIPC(await fs.readFile(uri));
    assert.deepEqual(table.getChild('review')!.toArray(), texts);
    assert.deepEqual([...table.getChild('city')!], cities);
  });

  void it('round-trips an empty shard', async () => {
    const uri = `file://${path.join(dir, 'empty.arrow')}`;
    await writeShard(uri, [], { imageSize: 32, spec: ADS_FEATURE_SPEC });
    assert.deepEqual(await readShard(uri), { imageSize: 32, spec: ADS_FEATURE_SPEC, examples: [] });
  });

  void it('refuses to write pixels of the wrong size', async () => {
    const [example] = await loadExamples(1);
    await assert.rejects(
      writeShard(path.join(dir, 'bad.arrow'), [example!], { imageSize: 32, spec: ADS_FEATURE_SPEC }),
      /expected 3072 pixel bytes/,
    );
  });

  void it('reports a missing shard as not found', async () => {
    await assert.rejects(readShard(path.join(dir, 'absent.arrow')), NotFoundError);
  });

  void it('reports garbage, truncated and foreign files clearly', async () => {
    const garbage = path.join(dir, 'garbage.arrow');
    await fs.writeFile(garbage, 'this is not arrow at all');
    await assert.rejects(
      readShard(garbage),
      (err) => err instanceof ShardFormatError && /not an Arrow IPC file/.test(err.message),
    );

    const whole = path.join(dir, 'whole.arrow');
    await writeShard(whole, await loadExamples(3), { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC });
    const truncated = path.join(dir, 'truncated.arrow');
    const bytes = await fs.readFile(whole);
    await fs.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(
      readShard(truncated),
      (err) => err instanceof ShardFormatError && err.message.includes(truncated),
    );

    const foreign = path.join(dir, 'foreign.arrow');
    await fs.writeFile(foreign, tableToIPC(tableFromArrays({ x: Int32Array.from([1, 2]) }), 'file'));
    await assert.rejects(
      readShard(foreign),
      (err) => err instanceof ShardFormatError && /image_size/.test(err.message),
    );
  });

  void it('streams a shard record batch by record batch, with the same examples as a whole read', async () => {
    const examples = await loadExamples(20);
    // Repeat the decoded rows so the shard spans several record batches.
    const many = Array.from({ length: 2 * SHARD_BATCH_ROWS + 7 }, (_, i) => ({
      ...examples[i % 20]!,
      ad_id: `ad-${i}`,
    }));
    const uri = path.join(dir, 'many.arrow');
    await writeShard(uri, many, { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC });
    const sizes: number[] = [];
    const streamed = [];
    for await (const chunk of streamShard(uri)) {
      assert.equal(chunk.imageSize, IMAGE_SIZE);
      sizes.push(chunk.examples.length);
      streamed.push(...chunk.examples);
    }
    assert.deepEqual(sizes, [SHARD_BATCH_ROWS, SHARD_BATCH_ROWS, 7]);
    assert.deepEqual(streamed, many);
    assert.deepEqual((await readShard(uri)).examples, many);
  });

  void it('reports missing, garbage and truncated shards clearly when streaming', async () => {
    const drain = async (uri: string) => {
      for await (const chunk of streamShard(uri)) void chunk;
    };
    await assert.rejects(drain(path.join(dir, 'absent.arrow')), NotFoundError);
    const garbage = path.join(dir, 'garbage-stream.arrow');
    await fs.writeFile(garbage, 'this is not arrow at all, not even close');
    await assert.rejects(drain(garbage), ShardFormatError);
    const bytes = await fs.readFile(path.join(dir, 'many.arrow'));
    const truncated = path.join(dir, 'truncated-stream.arrow');
    await fs.writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    await assert.rejects(
      drain(truncated),
      (err) => err instanceof ShardFormatError && err.message.includes(truncated),
    );
  });
});
