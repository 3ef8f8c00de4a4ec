/**
 * Ingest by the feature spec, on data that is not the ads: each dataset described as a user would
 * (`mlops data describe`), then planned, sharded and finished by the real activities, the shards
 * read back with their spec.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { FeatureSpec } from '../../../contracts/feature-spec';
import type {
  FinishIngestInput,
  IngestShardInput,
  PlanIngestInput,
  ShardedIngestResult,
} from '../../../contracts/ingest';
import { createIngestActivities } from '../../../activities/ingest/ingest';
import { describeDataset } from '../../../lib/dataset/spec-inference';
import { readShard, streamShard } from '../../../lib/dataset/shards';
import { CENSUS_COLUMNS, copySharedDataset, makeReviewDataset } from '../../helpers/other-datasets';

const IMAGE_SIZE = 8;
let store: string;
let runs = 0;

before(async () => {
  store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-ingest-spec-'));
});
after(async () => {
  await fs.rm(store, { recursive: true, force: true });
});

/** The three ingest activities in one fresh workflow run, as ingestInShards runs them. */
async function ingest(
  dataUri: string,
  spec?: FeatureSpec,
  options: { unlabelled?: boolean } = {},
): Promise<ShardedIngestResult> {
  const activities = createIngestActivities({ storeUri: store, servingUrls: [], adminToken: 'test' });
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'ingest-spec-test', runId: `run-${++runs}` } },
    { logger: new DefaultLogger('ERROR') },
  );
  let featureSpecUri: string | undefined;
  if (spec) {
    featureSpecUri = path.join(store, `spec-${runs}.json`);
    await fs.writeFile(featureSpecUri, JSON.stringify(spec));
  }
  const call = <I, R>(activity: (input: I) => Promise<R>, input: I) =>
    env.run<[I], R, (input: I) => Promise<R>>(activity, input);
  const plan = await call((input: PlanIngestInput) => activities.planIngest(input), {
    dataUri,
    imageSize: IMAGE_SIZE,
    evalFraction: 0.25,
    shardRows: 300,
    ...(featureSpecUri ? { featureSpecUri } : {}),
    ...(options.unlabelled ? { unlabelled: true } : {}),
  });
  for (let shardIndex = 0; shardIndex < plan.shardCount; shardIndex++) {
    await call((input: IngestShardInput) => activities.ingestShard(input), {
      planUri: plan.planUri,
      shardIndex,
    });
  }
  return call((input: FinishIngestInput) => activities.finishIngest(input), { planUri: plan.planUri });
}

async function rowsOf(uris: readonly string[]) {
  const rows = [];
  for (const uri of uris) for await (const chunk of streamShard(uri)) rows.push(...chunk.examples);
  return rows;
}

void describe('ingest by the feature spec', () => {
  void it('census: no header row, padded cells, "?" blanks, the label " 50000+." read as 1', async () => {
    await using data = await copySharedDataset('census-income-sample/census-income.csv');
    const { spec } = await describeDataset(data.csv, { columns: CENSUS_COLUMNS, label: 'income_50k' });
    const result = await ingest(data.csv, spec);
    const lines = (await fs.readFile(data.csv, 'utf8')).split('\n').filter(Boolean).length;
    assert.equal(result.rowsRead, lines, 'every line is a row: no header was skipped');
    assert.equal(result.quarantinedRows, 0, JSON.stringify(result.quarantineReasons));
    assert.equal(result.featureSpecSource, `given: ${path.join(store, `spec-${runs}.json`)}`);
    const rows = await rowsOf([...result.trainUris, ...result.evalUris]);
    assert.equal(rows.length, lines);
    const label = spec.label.column;
    const positives = rows.filter((row) => row[label] === 1).length;
    const expected = (await fs.readFile(data.csv, 'utf8'))
      .split('\n')
      .filter((line) => /50000\+\.\s*$/.test(line));
    assert.equal(positives, expected.length, 'exactly the " 50000+." rows are positive');
    const { spec: stored } = await readShard(result.trainUris[0]!);
    assert.deepEqual(stored, spec, 'the shard carries its spec');
    const categorical = spec.features.find((feature) => feature.kind === 'categorical')!;
    assert.ok(
      rows.every(
        (row) => row[categorical.column] === null || !/^\s|\s$/.test(String(row[categorical.column])),
      ),
      'cells are trimmed',
    );
  });

  void it('census rows to score (batch prediction): no header and no label field, every row kept', async () => {
    await using data = await copySharedDataset('census-income-sample/census-income.csv');
    const { spec } = await describeDataset(data.csv, { columns: CENSUS_COLUMNS, label: 'income_50k' });
    // The same rows without their last field, the label.
    const lines = (await fs.readFile(data.csv, 'utf8')).split('\n').filter(Boolean);
    const unlabelled = path.join(data.dir, 'to-score.csv');
    await fs.writeFile(unlabelled, `${lines.map((line) => line.replace(/,[^,]*$/, '')).join('\n')}\n`);
    const result = await ingest(unlabelled, spec, { unlabelled: true });
    assert.equal(result.rowsRead, lines.length);
    assert.equal(result.quarantinedRows, 0, JSON.stringify(result.quarantineReasons));
    const rows = await rowsOf([...result.trainUris, ...result.evalUris]);
    assert.equal(rows.length, lines.length);
    assert.ok(rows.every((row) => row[spec.label.column] === null));
    // Training still refuses the file: the label is part of its columns.
    await assert.rejects(ingest(unlabelled, spec), /field count|columns|fields/);
  });

  void it('reviews: semicolons, free text, blank prices as null, JPEGs of mixed sizes; missing photos quarantined', async () => {
    await using data = await makeReviewDataset({ rows: 60, missingPhotos: 4 });
    const { spec } = await describeDataset(data.csv);
    const result = await ingest(data.csv, spec);
    assert.equal(result.rowsRead, 60);
    assert.deepEqual(result.quarantineReasons, { 'missing image': 4 });
    const rows = await rowsOf([...result.trainUris, ...result.evalUris]);
    assert.equal(rows.length, 56);
    assert.ok(rows.every((row) => row.pixels?.length === IMAGE_SIZE * IMAGE_SIZE * 3));
    assert.ok(
      rows.some((row) => row.price === null),
      'blank prices read as missing',
    );
    assert.ok(rows.every((row) => typeof row['review text'] === 'string'));
    assert.ok(rows.every((row) => row['Would Recommend'] === 0 || row['Would Recommend'] === 1));
    assert.ok(rows.every((row) => typeof row['review id'] === 'string' && row.photo === undefined));
  });

  void it('avazu without --features: infers the spec, says so, and keeps the 20-digit id a string', async () => {
    await using data = await copySharedDataset('avazu-sample/train.csv');
    const result = await ingest(data.csv);
    assert.match(result.featureSpecSource!, /^inferred from the data/);
    const spec = JSON.parse(await fs.readFile(result.featureSpecUri!, 'utf8')) as FeatureSpec;
    assert.equal(spec.id, 'id');
    const rows = await rowsOf(result.trainUris);
    assert.ok(rows.length > 0);
    assert.ok(
      rows.every((row) => typeof row.id === 'string' && /^\d+$/.test(row.id)),
      'ids stay strings',
    );
  });

  void it('fails for good, naming the column, when the spec names one the CSV lacks', async () => {
    await using data = await makeReviewDataset({ rows: 10 });
    const { spec } = await describeDataset(data.csv);
    // Without csv.columns the spec is valid on its own; only the file can say "tip" is not there.
    const wrong = {
      ...spec,
      csv: { ...spec.csv, columns: undefined },
      features: [
        ...spec.features,
        { column: 'tip', kind: 'numeric' as const, normalize: 'zscore' as const, missingIndicator: true },
      ],
    };
    await assert.rejects(ingest(data.csv, wrong), (err) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /missing "tip", which the spec names/);
      return true;
    });
  });
});
