import fs from 'node:fs/promises';
import { adsSpecFile } from '../../helpers/ads-spec';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createIngestActivities } from '../../../activities/ingest/ingest';
import type {
  FinishIngestInput,
  IngestResult,
  IngestShardInput,
  PlanIngestInput,
  ShardedIngestResult,
} from '../../../contracts/ingest';
import {
  createValidateActivities,
  type ValidateInput,
  type ValidationResult,
} from '../../../activities/validate/validate';
import type { ActivityDeps } from '../../../activities/deps';
import type { Anomaly } from '../../../lib/dataset/anomalies';
import { writeShard } from '../../../lib/dataset/shards';
import { AD_COLUMNS, CATEGORICAL_FEATURES, type AdExample } from '../../../lib/dataset/schema';
import type { DatasetStatistics } from '../../../lib/dataset/statistics';
import { makeTinyDataset } from '../../helpers/tiny-dataset';

const IMAGE_SIZE = 16;
/** 40 rows with seed 2 give both labels in both splits at this eval fraction (checked by the first test). */
const ROWS = 40;
const SEED = 2;
const EVAL_FRACTION = 0.25;
const MAX_BAD = 0.1;
/** Small enough that the tiny datasets span several shards, as real data does. */
const SHARD_ROWS = 16;

let store: string;
let deps: ActivityDeps;
let runCounter = 0;

function environment(runId: string): MockActivityEnvironment {
  return new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'validate-test', runId } },
    { logger: new DefaultLogger('ERROR') },
  );
}

/** Runs an activity in a fresh activity context of the given workflow run. */
function call<I, R>(runId: string, activity: (input: I) => Promise<R>, input: I): Promise<R> {
  return environment(runId).run<[I], R, (input: I) => Promise<R>>(activity, input);
}

/**
 * Ingests a dataset folder as the pipeline does (planIngest, ingestShard for every shard,
 * finishIngest), then validates it, all inside one workflow run.
 */
async function ingestAndValidate(
  dataUri: string,
  { minRows = 20, maxBadRowFraction = MAX_BAD } = {},
): Promise<{ ingest: ShardedIngestResult; validate: () => Promise<ValidationResult> }> {
  const runId = `run-${++runCounter}`;
  const ingestActivities = createIngestActivities(deps);
  const validateActivities = createValidateActivities(deps);
  const plan = await call(runId, (input: PlanIngestInput) => ingestActivities.planIngest(input), {
    dataUri,
    imageSize: IMAGE_SIZE,
    evalFraction: EVAL_FRACTION,
    shardRows: SHARD_ROWS,
    featureSpecUri: await adsSpecFile(),
  });
  for (let shardIndex = 0; shardIndex < plan.shardCount; shardIndex++) {
    await call(runId, (input: IngestShardInput) => ingestActivities.ingestShard(input), {
      planUri: plan.planUri,
      shardIndex,
    });
  }
  const ingest = await call(runId, (input: FinishIngestInput) => ingestActivities.finishIngest(input), {
    planUri: plan.planUri,
  });
  const validate = () =>
    call(runId, (input: ValidateInput) => validateActivities.validateDataset(input), {
      ingest,
      maxBadRowFraction,
      minRows,
    });
  return { ingest, validate };
}

async function validationFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(caught)}`);
  assert.equal(caught.nonRetryable, true);
  assert.equal(caught.type, 'DataValidationFailed');
  return caught;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

void describe('validateDataset', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-validate-store-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('passes a clean dataset, writing statistics that match the CSV, a report and no warnings', async () => {
    await using tiny = await makeTinyDataset({ rows: ROWS, seed: SEED });
    const { validate } = await ingestAndValidate(tiny.dir);
    const result = await validate();

    assert.equal(result.validRows, ROWS);
    assert.equal(result.rowsRead, ROWS);
    assert.equal(result.badRows, 0);
    assert.equal(result.badRowFraction, 0);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.anomalies, []);
    assert.equal(result.omittedWarnings, 0);
    for (const uri of [result.statisticsUri, result.reportUri, result.anomaliesUri]) {
      assert.ok(uri.startsWith(path.join(store, 'runs', 'validate-test')), uri);
    }

    // Every number checked against the CSV itself.
    const csv = parse<Record<string, string>>(await fs.readFile(tiny.result.csvPath), { columns: true });
    assert.equal(csv.length, ROWS);
    const clicks = csv.filter((row) => row.clicked === '1').length;
    assert.ok(clicks > 0 && clicks < ROWS);
    assert.equal(result.clickRate, clicks / ROWS);
    const stats = JSON.parse(await fs.readFile(result.statisticsUri, 'utf8')) as DatasetStatistics;
    assert.equal(stats.rows, ROWS);
    assert.equal(stats.positiveRate, clicks / ROWS);
    for (const name of ['hour', 'headline_length'] as const) {
      const values = csv.map((row) => Number(row[name]));
      const expectedMean = mean(values);
      const expectedStd = Math.sqrt(mean(values.map((value) => (value - expectedMean) ** 2)));
      const feature = stats.features[name]!;
      assert.equal(feature.count, ROWS);
      assert.equal(feature.missing, 0);
      assert.equal(feature.numeric!.min, Math.min(...values));
      assert.equal(feature.numeric!.max, Math.max(...values));
      assert.ok(Math.abs(feature.numeric!.mean - expectedMean) < 1e-9, `${name} mean`);
      assert.ok(Math.abs(feature.numeric!.std - expectedStd) < 1e-9, `${name} std`);
    }
    for (const name of CATEGORICAL_FEATURES) {
      const expected = new Map<string, number>();
      for (const row of csv) expected.set(row[name]!, (expected.get(row[name]!) ?? 0) + 1);
      const vocabulary = stats.features[name]!.categorical!;
      assert.deepEqual(new Map(vocabulary.top), expected, name);
      assert.equal(vocabulary.distinct, expected.size, name);
      assert.equal(vocabulary.otherCount, 0, name);
    }

    const report = await fs.readFile(result.reportUri, 'utf8');
    assert.match(report, /^# Data validation of /);
    assert.match(report, /\*\*Passed\*\* with 0 warning\(s\)\./);
    assert.match(report, /\| hour \| float \| 40 \| 0 \|/);
    const saved = JSON.parse(await fs.readFile(result.anomaliesUri, 'utf8')) as { anomalies: Anomaly[] };
    assert.deepEqual(saved.anomalies, []);
  });

  void it('passes a few bad rows under the threshold with a warning naming the counts and the quarantine file', async () => {
    await using tiny = await makeTinyDataset({ rows: ROWS, seed: SEED, corrupt: 3 });
    const { ingest, validate } = await ingestAndValidate(tiny.dir);
    const report = await validate();
    assert.equal(report.validRows, ROWS - 3);
    assert.equal(report.badRows, 3);
    assert.equal(report.badRowFraction, 3 / ROWS);
    assert.equal(report.warnings.length, 1);
    const [warning] = report.warnings;
    assert.match(warning!, /^3 rows quarantined \(/);
    // The corruptions assigned first are hour_not_numeric, hour_out_of_range, clicked_unknown.
    assert.match(warning!, /2 × invalid field, 1 × invalid label/);
    assert.ok(warning!.includes(ingest.quarantineUri), warning);
  });

  void it('fails a mostly bad dataset giving the fraction, the threshold, the reasons and the quarantine file', async () => {
    await using tiny = await makeTinyDataset({ rows: 20, seed: SEED, corrupt: 15 });
    const { ingest, validate } = await ingestAndValidate(tiny.dir, { minRows: 2 });
    assert.equal(ingest.quarantinedRows, 15);
    const failure = await validationFailure(validate());
    assert.match(failure.message, new RegExp(`^Data validation failed for ${escape(tiny.dir)}: `));
    assert.match(failure.message, /15 of 20 rows are bad \(75\.0% > maxBadRowFraction 10\.0%\)/);
    for (const [reason, count] of Object.entries(ingest.quarantineReasons)) {
      assert.ok(
        failure.message.includes(`${count} × ${reason}`),
        `${count} × ${reason} in: ${failure.message}`,
      );
    }
    assert.ok(failure.message.includes(ingest.quarantineUri), failure.message);

    const [details] = failure.details as [
      { problems: string[]; anomalies: Anomaly[]; reportUri: string; anomaliesUri: string },
    ];
    assert.equal(details.problems.length >= 1, true);
    assert.match(details.problems[0]!, /^15 of 20 rows are bad/);
    assert.equal(details.anomalies[0]!.kind, 'bad_rows');
    assert.ok(failure.message.endsWith(`Report: ${details.reportUri}`), failure.message);
    // The reports are written even when validation fails, so the reasons survive the failure.
    const saved = JSON.parse(await fs.readFile(details.anomaliesUri, 'utf8')) as { anomalies: Anomaly[] };
    assert.deepEqual(
      saved.anomalies.filter((anomaly) => anomaly.severity === 'critical').map((anomaly) => anomaly.message),
      details.problems,
    );
    const report = await fs.readFile(details.reportUri, 'utf8');
    assert.match(report, /\*\*Failed\*\*: \d+ critical anomal/);
    assert.ok(report.includes('15 of 20 rows are bad'), report);
  });

  void it('fails a header-only CSV saying it has no rows, without a nonsensical bad-row fraction', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-validate-empty-'));
    try {
      await fs.writeFile(path.join(dir, 'ads.csv'), `${AD_COLUMNS.join(',')}\n`);
      const { validate } = await ingestAndValidate(dir);
      const failure = await validationFailure(validate());
      assert.match(failure.message, /the CSV has a header but no rows/);
      assert.match(failure.message, /only 0 valid rows; at least 20 are needed \(data\.minRows\)/);
      assert.doesNotMatch(failure.message, /0 of 0 rows are bad/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  void it('fails too few valid rows, naming minRows', async () => {
    await using tiny = await makeTinyDataset({ rows: ROWS, seed: SEED });
    const { validate } = await ingestAndValidate(tiny.dir, { minRows: 50 });
    const failure = await validationFailure(validate());
    assert.match(failure.message, /only 40 valid rows; at least 50 are needed \(data\.minRows\)/);
    assert.doesNotMatch(failure.message, /rows are bad/);
  });

  void it('counts quarantined rows against minRows, not the rows read', async () => {
    await using tiny = await makeTinyDataset({ rows: ROWS, seed: SEED, corrupt: 3 });
    const { validate } = await ingestAndValidate(tiny.dir, { minRows: ROWS });
    const failure = await validationFailure(validate());
    assert.match(failure.message, /only 37 valid rows; at least 40 are needed/);
  });

  void it('fails a split that holds a single label', async () => {
    // Every ad unclicked: both splits have one label, which no AUC can be computed on.
    await using tiny = await makeTinyDataset({ rows: ROWS, seed: SEED });
    const csv = await fs.readFile(tiny.result.csvPath, 'utf8');
    await fs.writeFile(tiny.result.csvPath, csv.replace(/,1\n/g, ',0\n'));
    const { validate } = await ingestAndValidate(tiny.dir);
    const failure = await validationFailure(validate());
    assert.match(failure.message, /the train split has only one label \(0 clicks in \d+ rows\)/);
    assert.match(failure.message, /the eval split has only one label \(0 clicks in \d+ rows\)/);
  });

  void it('keeps the top vocabularyTopK values of a high-cardinality column in statistics.json, the rest as other', async () => {
    const distinct = 200;
    // Advertiser i appears i + 1 times, so the top values are the highest-numbered advertisers.
    const examples: AdExample[] = [];
    for (let i = 0; i < distinct; i++) {
      for (let copy = 0; copy <= i; copy++) {
        examples.push({
          ad_id: `ad-${i}-${copy}`,
          advertiser: `advertiser-${i}`,
          category: 'shoes',
          placement: 'feed',
          device: 'mobile',
          hour: examples.length % 24,
          headline_length: 10,
          clicked: examples.length % 2,
          pixels: new Uint8Array(3),
        });
      }
    }
    const shardDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-validate-shards-'));
    try {
      const trainUri = path.join(shardDir, 'train.arrow');
      const evalUri = path.join(shardDir, 'eval.arrow');
      const half = Math.floor(examples.length / 2);
      await writeShard(trainUri, examples.slice(0, half), { imageSize: 1, spec: ADS_FEATURE_SPEC });
      await writeShard(evalUri, examples.slice(half), { imageSize: 1, spec: ADS_FEATURE_SPEC });
      const ingest: IngestResult = {
        dataUri: shardDir,
        trainUri,
        evalUri,
        quarantineUri: path.join(shardDir, 'quarantine.jsonl'),
        imageSize: 1,
        schemaVersion: 1,
        rowsRead: examples.length,
        trainRows: half,
        evalRows: examples.length - half,
        quarantinedRows: 0,
        quarantineReasons: {},
        fingerprint: 'synthetic',
      };
      const runValidate = (input: ValidateInput) => createValidateActivities(deps).validateDataset(input);
      const result = await environment(`run-${++runCounter}`).run<
        [ValidateInput],
        ValidationResult,
        typeof runValidate
      >(runValidate, {
        ingest,
        maxBadRowFraction: MAX_BAD,
        minRows: 1,
        validation: { vocabularyTopK: 50, maxDomainSize: 50 },
      });

      const stats = JSON.parse(await fs.readFile(result.statisticsUri, 'utf8')) as DatasetStatistics;
      const advertisers = stats.features.advertiser!.categorical!;
      assert.equal(advertisers.top.length, 50);
      assert.equal(advertisers.distinct, distinct);
      assert.deepEqual(advertisers.top[0], [`advertiser-${distinct - 1}`, distinct]);
      assert.deepEqual(advertisers.top[49], [`advertiser-${distinct - 50}`, distinct - 49]);
      const kept = advertisers.top.reduce((sum, [, count]) => sum + count, 0);
      assert.equal(advertisers.otherCount, examples.length - kept);
      assert.deepEqual(stats.features.category!.categorical!.top, [['shoes', examples.length]]);
      // The result that goes into workflow history stays small whatever the vocabulary.
      assert.ok(JSON.stringify(result).length < 4000, `${JSON.stringify(result).length} bytes`);
    } finally {
      await fs.rm(shardDir, { recursive: true, force: true });
    }
  });
});
