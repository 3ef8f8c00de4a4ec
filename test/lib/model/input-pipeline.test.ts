import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NUMERIC_FEATURES } from '../../../lib/dataset/schema';
import { streamShard, writeShard, type ShardChunk } from '../../../lib/dataset/shards';
import {
  fitPreprocessing,
  scanShards,
  shardTrainingData,
  type LabelledBatch,
  type Preprocessing,
  type ShardSource,
} from '../../../lib/model';
import { prefetch } from '../../../lib/model/prefetch';
import { makeExamples } from './fixtures';

const IMAGE_SIZE = 4;
const HEADLINE = NUMERIC_FEATURES.indexOf('headline_length');

function numericOf(preprocessing: Preprocessing, column: string): { mean: number; std: number } {
  const feature = preprocessing.features.find((candidate) => candidate.column === column);
  assert.ok(feature?.kind === 'numeric', `${column} is numeric`);
  return feature;
}

/** Row numbers of a batch, recovered from the normalised headline_length (the fixture sets it to the row number). */
function rowIds(batch: LabelledBatch, preprocessing: Preprocessing): number[] {
  const { mean, std } = numericOf(preprocessing, 'headline_length');
  const k = NUMERIC_FEATURES.length;
  return Array.from({ length: batch.inputs.size }, (_, i) =>
    Math.round(batch.inputs.numeric[i * k + HEADLINE]! * std + mean),
  );
}

async function epochRows(
  data: ReturnType<typeof shardTrainingData>,
  epoch: number,
  batchSize: number,
  preprocessing: Preprocessing,
) {
  const batches: number[][] = [];
  for await (const batch of data.batches(epoch, batchSize)) batches.push(rowIds(batch, preprocessing));
  return batches;
}

void describe('input pipeline', () => {
  let dir: string;
  let shards: ShardSource[];
  let preprocessing: Preprocessing;
  const examples = makeExamples(1200, 9, IMAGE_SIZE);

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-input-'));
    // 700 rows make two record batches (512 + 188); the others one each.
    const parts = [examples.slice(0, 700), examples.slice(700, 1000), examples.slice(1000)];
    const uris = parts.map((_, i) => path.join(dir, `train-${i}.arrow`));
    await Promise.all(
      parts.map((part, i) => writeShard(uris[i]!, part, { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC })),
    );
    ({ shards, preprocessing } = await scanShards(uris, IMAGE_SIZE, ADS_FEATURE_SPEC));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('fits the same preprocessing in one streaming pass as on the examples in memory', () => {
    assert.deepEqual(
      shards.map((s) => s.rows),
      [700, 300, 200],
    );
    const reference = fitPreprocessing(examples, IMAGE_SIZE, ADS_FEATURE_SPEC);
    assert.deepEqual(
      preprocessing.features.filter((feature) => feature.kind !== 'numeric'),
      reference.features.filter((feature) => feature.kind !== 'numeric'),
    );
    for (const feature of NUMERIC_FEATURES) {
      assert.ok(Math.abs(numericOf(preprocessing, feature).mean - numericOf(reference, feature).mean) < 1e-9);
      assert.ok(Math.abs(numericOf(preprocessing, feature).std - numericOf(reference, feature).std) < 1e-9);
    }
  });

  void it('gives every row once per epoch, in an order fixed by seed and epoch, mixed across shards', async () => {
    const data = shardTrainingData({ shards, preprocessing, seed: 1, shuffleBufferSize: 256 });
    assert.equal(data.rows, 1200);
    const first = await epochRows(data, 1, 32, preprocessing);
    assert.equal(first.length, Math.ceil(1200 / 32));
    assert.deepEqual(first.map((b) => b.length).slice(-1), [1200 % 32]);
    assert.deepEqual(
      first.flat().sort((a, b) => a - b),
      examples.map((_, i) => i),
    );
    assert.deepEqual(await epochRows(data, 1, 32, preprocessing), first, 'same seed and epoch, same order');
    assert.notDeepEqual(await epochRows(data, 2, 32, preprocessing), first, 'another epoch, another order');
    const otherSeed = shardTrainingData({ shards, preprocessing, seed: 2, shuffleBufferSize: 256 });
    assert.notDeepEqual(
      await epochRows(otherSeed, 1, 32, preprocessing),
      first,
      'another seed, another order',
    );
    // Over an epoch, rows of different shards sit side by side in batches.
    const shardOf = (row: number) => (row < 700 ? 0 : row < 1000 ? 1 : 2);
    const mixed = first.filter((batch) => new Set(batch.map(shardOf)).size > 1).length;
    assert.ok(mixed > 0, 'no batch mixes shards');
  });

  void it('holds only the shuffle buffer and a record batch or two, reading lazily', async () => {
    let rowsRead = 0;
    const read = async function* (uri: string): AsyncGenerator<ShardChunk> {
      for await (const chunk of streamShard(uri)) {
        rowsRead += chunk.examples.length;
        yield chunk;
      }
    };
    const data = shardTrainingData({ shards, preprocessing, seed: 1, shuffleBufferSize: 64, read });
    const iterator = data.batches(1, 16)[Symbol.asyncIterator]();
    await iterator.next();
    // The buffer (64) is filled from the first record batch; at most the next one is prefetched.
    assert.ok(rowsRead <= 2 * 512, `read ${rowsRead} rows before the first batch`);
    await iterator.return?.(undefined);
  });

  void it('fails clearly when a shard holds images of another size', async () => {
    const other = path.join(dir, 'other-size.arrow');
    await writeShard(other, makeExamples(3, 1, 8), { imageSize: 8, spec: ADS_FEATURE_SPEC });
    await assert.rejects(
      scanShards([other], IMAGE_SIZE, ADS_FEATURE_SPEC),
      /holds 8px images; this training uses 4px/,
    );
  });

  void it('prefetch asks for the next item before the consumer does', async () => {
    const log: string[] = [];
    async function* source() {
      for (let i = 1; i <= 3; i++) {
        log.push(`produce ${i}`);
        await new Promise((resolve) => setImmediate(resolve));
        yield i;
      }
    }
    for await (const item of prefetch(source())) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.push(`consumed ${item}`);
    }
    assert.deepEqual(log, ['produce 1', 'produce 2', 'consumed 1', 'produce 3', 'consumed 2', 'consumed 3']);
  });
});
