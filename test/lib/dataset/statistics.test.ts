import assert from 'node:assert/strict';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Float64, Int32, Int64, Table, Utf8, tableToIPC, vectorFromArray, type Vector } from 'apache-arrow';
import { listShardFiles } from '../../../lib/dataset/record-batches';
import { writeShard } from '../../../lib/dataset/shards';
import {
  computeStatistics,
  truncateVocabularies,
  type DatasetStatistics,
} from '../../../lib/dataset/statistics';
import type { AdExample } from '../../../lib/dataset/schema';

let dir: string;

function example(i: number): AdExample {
  return {
    ad_id: `ad-${i}`,
    advertiser: ['acme', 'brightlane', 'cobalt'][i % 3]!,
    category: i % 5 === 0 ? 'travel' : 'retail',
    placement: 'feed',
    device: i % 2 === 0 ? 'mobile' : 'desktop',
    hour: i % 24,
    headline_length: 10 + (i % 50),
    clicked: i % 4 === 0 ? 1 : 0,
    pixels: new Uint8Array(3),
  };
}

async function writeArrow(name: string, columns: Record<string, Vector>): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, tableToIPC(new Table(columns), 'file'));
  return file;
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

void describe('computeStatistics', () => {
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-statistics-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('summarises every column of train and eval shards, numbers checked against the rows', async () => {
    const examples = Array.from({ length: 1500 }, (_, i) => example(i));
    const trainUri = path.join(dir, 'train.arrow');
    const evalUri = path.join(dir, 'eval.arrow');
    await writeShard(trainUri, examples.slice(0, 1200), { imageSize: 1, spec: ADS_FEATURE_SPEC });
    await writeShard(evalUri, examples.slice(1200), { imageSize: 1, spec: ADS_FEATURE_SPEC });
    const stats = await computeStatistics(
      [
        { name: 'train', shardUris: [trainUri] },
        { name: 'eval', shardUris: [evalUri] },
      ],
      { spec: ADS_FEATURE_SPEC },
    );

    assert.equal(stats.rows, 1500);
    assert.deepEqual(stats.splits.train, { rows: 1200, labelCounts: { '0': 900, '1': 300 } });
    assert.deepEqual(stats.splits.eval, { rows: 300, labelCounts: { '0': 225, '1': 75 } });
    assert.deepEqual(stats.labelCounts, { '0': 1125, '1': 375 });
    assert.equal(stats.positiveRate, 0.25);
    for (const name of ['hour', 'headline_length'] as const) {
      const values = examples.map((row) => row[name]);
      const expectedMean = mean(values);
      const feature = stats.features[name]!;
      assert.equal(feature.type, 'float', 'shards store every numeric as Float64');
      assert.equal(feature.count, 1500);
      assert.equal(feature.missing, 0);
      assert.equal(feature.numeric!.min, Math.min(...values));
      assert.equal(feature.numeric!.max, Math.max(...values));
      assert.ok(Math.abs(feature.numeric!.mean - expectedMean) < 1e-9);
      const std = Math.sqrt(mean(values.map((value) => (value - expectedMean) ** 2)));
      assert.ok(Math.abs(feature.numeric!.std - std) < 1e-9);
    }
    assert.deepEqual(stats.features.advertiser!.categorical, {
      distinct: 3,
      top: [
        ['acme', 500],
        ['brightlane', 500],
        ['cobalt', 500],
      ],
      otherCount: 0,
    });
    assert.equal(stats.features.advertiser!.type, 'string');
    assert.deepEqual(stats.features.ad_id, {
      type: 'string',
      arrowType: 'Utf8',
      count: 1500,
      missing: 0,
      identifier: true,
    });
    assert.equal(stats.features.pixels!.type, 'bytes');
    assert.deepEqual(stats.features.pixels!.bytes, { minLength: 3, maxLength: 3, meanLength: 3 });
    assert.deepEqual(Object.keys(stats.features), [
      'ad_id',
      'advertiser',
      'category',
      'placement',
      'device',
      'hour',
      'headline_length',
      'clicked',
      'pixels',
    ]);
  });

  void it('gives the same statistics whether shards are read one at a time or several at once', async () => {
    const shardUris: string[] = [];
    for (let shard = 0; shard < 5; shard++) {
      const uri = path.join(dir, `part-${shard}.arrow`);
      await writeShard(
        uri,
        Array.from({ length: 700 }, (_, i) => example(shard * 700 + i)),
        { imageSize: 1, spec: ADS_FEATURE_SPEC },
      );
      shardUris.push(uri);
    }
    const one = await computeStatistics([{ name: 'train', shardUris }], {
      spec: ADS_FEATURE_SPEC,
      concurrency: 1,
    });
    const three = await computeStatistics([{ name: 'train', shardUris }], {
      spec: ADS_FEATURE_SPEC,
      concurrency: 3,
    });
    const round = (stats: DatasetStatistics) =>
      JSON.parse(
        JSON.stringify(stats, (_, value: unknown) =>
          typeof value === 'number' ? +value.toPrecision(12) : value,
        ),
      ) as unknown;
    assert.deepEqual(round(three), round(one));
    assert.equal(one.rows, 3500);
  });

  void it('counts nulls, NaN and a column absent from a shard as missing, and notes a column whose type changes', async () => {
    const first = await writeArrow('first.arrow', {
      hour: vectorFromArray([1, null, 3], new Int32()),
      score: vectorFromArray([0.5, Number.NaN, 1.5], new Float64()),
      clicked: vectorFromArray([0, 1, 0], new Int32()),
    });
    const second = await writeArrow('second.arrow', {
      hour: vectorFromArray(['7', '8'], new Utf8()),
      big: vectorFromArray([5n, 7n], new Int64()),
      clicked: vectorFromArray([1, 1], new Int32()),
    });
    const stats = await computeStatistics([{ name: 'train', shardUris: [first, second] }], {
      spec: ADS_FEATURE_SPEC,
      concurrency: 1,
    });
    assert.equal(stats.rows, 5);
    assert.equal(stats.features.hour!.type, 'int');
    assert.equal(stats.features.hour!.count, 2);
    assert.equal(stats.features.hour!.missing, 3);
    assert.deepEqual(stats.features.hour!.conflictingTypes, ['string (Utf8)']);
    assert.equal(stats.features.score!.type, 'float');
    assert.equal(stats.features.score!.missing, 3);
    assert.equal(stats.features.score!.numeric!.mean, 1);
    assert.equal(stats.features.big!.type, 'int');
    assert.equal(stats.features.big!.missing, 3);
    assert.equal(stats.features.big!.numeric!.max, 7);
  });

  void it('lists every .arrow shard under a folder URI', async () => {
    const folder = path.join(dir, 'folder');
    await fs.mkdir(folder);
    await writeShard(path.join(folder, 'a.arrow'), [example(1)], { imageSize: 1, spec: ADS_FEATURE_SPEC });
    await writeShard(path.join(folder, 'b.arrow'), [example(2)], { imageSize: 1, spec: ADS_FEATURE_SPEC });
    await fs.writeFile(path.join(folder, 'notes.txt'), 'not a shard');
    const uris = await listShardFiles(folder);
    assert.deepEqual(
      uris.map((uri) => path.basename(uri)),
      ['a.arrow', 'b.arrow'],
    );
  });
});

void describe('truncateVocabularies', () => {
  void it('keeps the top K values and counts the rest as other', () => {
    const stats = {
      features: {
        advertiser: {
          type: 'string',
          arrowType: 'Utf8',
          count: 10,
          missing: 0,
          categorical: {
            distinct: 3,
            top: [
              ['a', 5],
              ['b', 3],
              ['c', 2],
            ],
            otherCount: 0,
          },
        },
      },
    } as unknown as DatasetStatistics;
    assert.deepEqual(truncateVocabularies(stats, 1).features.advertiser!.categorical, {
      distinct: 3,
      top: [['a', 5]],
      otherCount: 5,
    });
    assert.deepEqual(truncateVocabularies(stats, 3).features.advertiser, stats.features.advertiser);
  });
});
