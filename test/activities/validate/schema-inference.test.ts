import assert from 'node:assert/strict';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Binary, Int32, Int8, Table, Utf8, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { Anomaly } from '../../../lib/dataset/anomalies';
import {
  allowedRange,
  checkAgainstSchema,
  inferSchema,
  type DatasetSchema,
  type SchemaCheckOptions,
} from '../../../activities/validate/schema-inference';
import { writeShard } from '../../../lib/dataset/shards';
import type { AdExample } from '../../../lib/dataset/schema';
import { computeStatistics, type DatasetStatistics } from '../../../lib/dataset/statistics';

let dir: string;
let counter = 0;

const OPTIONS: SchemaCheckOptions = {
  outOfVocabulary: { warning: 0.01, critical: 0.5 },
  outOfRange: { tolerance: 0.1, warning: 0, critical: 0.05 },
  schemaUri: '/store/schemas/ctr/schema.json',
};
const ADVERTISERS = ['acme', 'brightlane', 'cobalt', 'dunmore'];

function example(i: number, overrides: Partial<AdExample> = {}): AdExample {
  return {
    ad_id: `ad-${i}`,
    advertiser: ADVERTISERS[i % ADVERTISERS.length]!,
    category: 'retail',
    placement: 'feed',
    device: 'mobile',
    hour: i % 24,
    headline_length: 15 + (i % 76),
    clicked: i % 3 === 0 ? 1 : 0,
    pixels: new Uint8Array(3),
    ...overrides,
  };
}

async function statisticsOf(examples: AdExample[]): Promise<DatasetStatistics> {
  const uri = path.join(dir, `shard-${++counter}.arrow`);
  await writeShard(uri, examples, { imageSize: 1, spec: ADS_FEATURE_SPEC });
  return computeStatistics([{ name: 'train', shardUris: [uri] }], { spec: ADS_FEATURE_SPEC });
}

function schemaOf(stats: DatasetStatistics, maxDomainSize = 1000): DatasetSchema {
  return inferSchema(stats, {
    model: 'ctr',
    maxDomainSize,
    inferredFrom: {
      dataUri: '/data/1',
      fingerprint: 'f',
      workflowId: 'w',
      runId: 'r',
      at: '2026-01-01T00:00:00Z',
    },
  });
}

const rows = (n: number, make: (i: number) => AdExample = (i) => example(i)) =>
  Array.from({ length: n }, (_, i) => make(i));
const kinds = (anomalies: Anomaly[]) =>
  anomalies.map((anomaly) => `${anomaly.severity} ${anomaly.kind} ${anomaly.feature ?? ''}`);

void describe('inferSchema', () => {
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-schema-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('records types, required columns, vocabularies, ranges and label values', async () => {
    const schema = schemaOf(await statisticsOf(rows(400)));
    assert.deepEqual(schema.features.advertiser, { type: 'string', required: true, domain: ADVERTISERS });
    assert.deepEqual(schema.features.hour, { type: 'float', required: true, range: { min: 0, max: 23 } });
    assert.deepEqual(schema.features.headline_length!.range, { min: 15, max: 90 });
    assert.deepEqual(schema.features.ad_id, { type: 'string', required: true, identifier: true });
    assert.deepEqual(schema.features.pixels, { type: 'bytes', required: true });
    assert.deepEqual(schema.label, { name: 'clicked', values: ['0', '1'] });
    assert.deepEqual(schema.features.clicked, { type: 'int', required: true });
  });

  void it('gives a feature with more distinct values than maxDomainSize no vocabulary', async () => {
    const schema = schemaOf(await statisticsOf(rows(400)), 3);
    assert.equal(schema.features.advertiser!.domain, undefined);
    assert.deepEqual(schema.features.device!.domain, ['mobile']);
  });
});

void describe('checkAgainstSchema', () => {
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-schema-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('finds nothing in another dataset of the same kind', async () => {
    const schema = schemaOf(await statisticsOf(rows(400)));
    const later = await statisticsOf(rows(300, (i) => example(i + 7)));
    assert.deepEqual(checkAgainstSchema(later, schema, OPTIONS), []);
  });

  void it('warns about a few unknown values and fails when most are unknown, naming them', async () => {
    const schema = schemaOf(await statisticsOf(rows(400)));
    const few = await statisticsOf(rows(400, (i) => example(i, i % 20 === 0 ? { advertiser: 'helix' } : {})));
    const [warning, ...rest] = checkAgainstSchema(few, schema, OPTIONS);
    assert.deepEqual(rest, []);
    assert.equal(warning!.severity, 'warning');
    assert.equal(warning!.kind, 'out_of_vocabulary');
    assert.equal(warning!.value, 0.05);
    assert.match(
      warning!.message,
      /^advertiser: 5\.0% of values \(20 of 400\) are not in the schema's 4 known values \(most frequent: "helix" × 20\)/,
    );
    assert.match(warning!.message, /data\.validation\.outOfVocabulary\.warning/);
    assert.ok(warning!.message.includes(OPTIONS.schemaUri));

    const most = await statisticsOf(
      rows(400, (i) => example(i, { advertiser: i % 4 === 0 ? 'acme' : `new-${i % 7}` })),
    );
    assert.deepEqual(kinds(checkAgainstSchema(most, schema, OPTIONS)), [
      'critical out_of_vocabulary advertiser',
    ]);
    // Below the warning threshold: 1 in 400 is 0.25%.
    const one = await statisticsOf(rows(400, (i) => example(i, i === 5 ? { advertiser: 'helix' } : {})));
    assert.deepEqual(checkAgainstSchema(one, schema, OPTIONS), []);
  });

  void it('accepts values within the range tolerance and flags values beyond it by the fraction outside', async () => {
    const schema = schemaOf(await statisticsOf(rows(400)));
    assert.deepEqual(allowedRange({ min: 15, max: 90 }, 0.1), [7.5, 97.5]);
    const within = await statisticsOf(rows(400, (i) => example(i, i === 0 ? { headline_length: 97 } : {})));
    assert.deepEqual(checkAgainstSchema(within, schema, OPTIONS), []);

    const few = await statisticsOf(rows(400, (i) => example(i, i < 4 ? { headline_length: 300 } : {})));
    const [warning] = checkAgainstSchema(few, schema, OPTIONS);
    assert.deepEqual(kinds([warning!]), ['warning out_of_range headline_length']);
    assert.match(
      warning!.message,
      /^headline_length: 1\.0% of values \(4 of 400\) are outside the schema's range \[15, 90\] widened by 10\.0% to \[7\.5, 97\.5\] \(seen: 15 to 300\)/,
    );

    const many = await statisticsOf(rows(400, (i) => example(i, i < 40 ? { headline_length: 300 } : {})));
    assert.deepEqual(kinds(checkAgainstSchema(many, schema, OPTIONS)), [
      'critical out_of_range headline_length',
    ]);
  });

  void it('fails a missing column, a changed type and an unknown label, and warns about a new column', async () => {
    const schema = schemaOf(await statisticsOf(rows(40)));
    const uri = path.join(dir, 'changed.arrow');
    // hour as text, headline_length gone, a new column, and a label value of 2.
    const table = new Table({
      ad_id: vectorFromArray(['a', 'b', 'c'], new Utf8()),
      advertiser: vectorFromArray(['acme', 'acme', 'cobalt'], new Utf8()),
      category: vectorFromArray(['retail', 'retail', 'retail'], new Utf8()),
      placement: vectorFromArray(['feed', 'feed', 'feed'], new Utf8()),
      device: vectorFromArray(['mobile', 'mobile', 'mobile'], new Utf8()),
      hour: vectorFromArray(['1', '2', '3'], new Utf8()),
      campaign: vectorFromArray([1, 2, 3], new Int32()),
      clicked: vectorFromArray([0, 1, 2], new Int8()),
      pixels: vectorFromArray([new Uint8Array(3), new Uint8Array(3), new Uint8Array(3)], new Binary()),
    });
    await fs.writeFile(uri, tableToIPC(table, 'file'));
    const stats = await computeStatistics([{ name: 'train', shardUris: [uri] }], { spec: ADS_FEATURE_SPEC });
    const anomalies = checkAgainstSchema(stats, schema, OPTIONS);
    assert.deepEqual(kinds(anomalies).sort(), [
      'critical missing_column headline_length',
      'critical type_change hour',
      'critical unknown_label clicked',
      'warning new_column campaign',
    ]);
    const message = (kind: string) => anomalies.find((anomaly) => anomaly.kind === kind)!.message;
    assert.equal(message('type_change'), 'hour: column is string (Utf8) but the schema says float');
    assert.equal(message('unknown_label'), `clicked: label values "2" × 1 are not in the schema's 0, 1`);
    assert.match(
      message('missing_column'),
      /^headline_length: column is missing; the schema \(.*\) has it as float$/,
    );
  });

  void it("warns, not fails, where the run's feature spec itself dropped or retyped a column", async () => {
    const schema = schemaOf(await statisticsOf(rows(40)));
    const uri = path.join(dir, 'spec-changed.arrow');
    const table = new Table({
      ad_id: vectorFromArray(['a', 'b', 'c'], new Utf8()),
      advertiser: vectorFromArray(['acme', 'acme', 'cobalt'], new Utf8()),
      category: vectorFromArray(['retail', 'retail', 'retail'], new Utf8()),
      placement: vectorFromArray(['feed', 'feed', 'feed'], new Utf8()),
      device: vectorFromArray(['mobile', 'mobile', 'mobile'], new Utf8()),
      hour: vectorFromArray(['1', '2', '3'], new Utf8()),
      clicked: vectorFromArray([0, 1, 0], new Int8()),
      pixels: vectorFromArray([new Uint8Array(3), new Uint8Array(3), new Uint8Array(3)], new Binary()),
    });
    await fs.writeFile(uri, tableToIPC(table, 'file'));
    // The user's edit: headline_length is ignored, hour is read as a category.
    const spec = {
      ...ADS_FEATURE_SPEC,
      features: ADS_FEATURE_SPEC.features.map((feature) =>
        feature.column === 'headline_length'
          ? { column: 'headline_length', kind: 'ignored' as const }
          : feature.column === 'hour'
            ? { column: 'hour', kind: 'categorical' as const, encoding: 'vocabulary' as const }
            : feature,
      ),
    };
    const stats = await computeStatistics([{ name: 'train', shardUris: [uri] }], { spec });
    const anomalies = checkAgainstSchema(stats, schema, { ...OPTIONS, spec });
    assert.deepEqual(kinds(anomalies).sort(), [
      'warning missing_column headline_length',
      'warning type_change hour',
    ]);
    assert.match(
      anomalies.find((anomaly) => anomaly.kind === 'missing_column')!.message,
      /^headline_length: not read by this run's feature spec, so the model will not use it/,
    );
    // Without the spec the same statistics fail, as data that lost a column would.
    assert.ok(checkAgainstSchema(stats, schema, OPTIONS).some((anomaly) => anomaly.severity === 'critical'));
  });

  void it('fails missing values in a column the schema requires', async () => {
    const schema = schemaOf(await statisticsOf(rows(40)));
    const stats = await statisticsOf(rows(40));
    // The same statistics, but 4 rows without an hour, as a nullable source would give.
    stats.features.hour = { ...stats.features.hour!, count: 36, missing: 4 };
    assert.deepEqual(kinds(checkAgainstSchema(stats, schema, OPTIONS)), ['critical missing_values hour']);
  });
});
