import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createIngestActivities, type IngestInput, type IngestResult } from '../../activities/ingest';
import {
  createValidateActivities,
  type ValidateInput,
  type ValidationReport,
} from '../../activities/validate';
import type { ActivityDeps } from '../../activities/deps';
import { AD_COLUMNS, CATEGORICAL_FEATURES } from '../../lib/dataset/schema';
import { makeTinyDataset } from '../helpers/tiny-dataset';

const IMAGE_SIZE = 16;
/** 40 rows with seed 2 give both labels in both splits at this eval fraction (checked by the first test). */
const ROWS = 40;
const SEED = 2;
const EVAL_FRACTION = 0.25;
const MAX_BAD = 0.1;

let store: string;
let deps: ActivityDeps;
let runCounter = 0;

function environment(runId: string): MockActivityEnvironment {
  return new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'validate-test', runId } },
    { logger: new DefaultLogger('ERROR') },
  );
}

/** Ingests then validates a dataset folder inside one workflow run, as the pipeline does. */
async function ingestAndValidate(
  dataUri: string,
  { minRows = 20, maxBadRowFraction = MAX_BAD } = {},
): Promise<{ ingest: IngestResult; validate: () => Promise<ValidationReport> }> {
  const env = environment(`run-${++runCounter}`);
  const ingestActivities = createIngestActivities(deps);
  const validateActivities = createValidateActivities(deps);
  const runIngest = (input: IngestInput) => ingestActivities.ingestDataset(input);
  const runValidate = (input: ValidateInput) => validateActivities.validateDataset(input);
  const ingest = await env.run<[IngestInput], IngestResult, typeof runIngest>(runIngest, {
    dataUri,
    imageSize: IMAGE_SIZE,
    evalFraction: EVAL_FRACTION,
  });
  const validate = () =>
    env.run<[ValidateInput], ValidationReport, typeof runValidate>(runValidate, {
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

  void it('passes a clean dataset with numeric stats, vocabularies and no warnings', async () => {
    await using tiny = await makeTinyDataset({ rows: ROWS, seed: SEED });
    const { validate } = await ingestAndValidate(tiny.dir);
    const report = await validate();

    assert.equal(report.validRows, ROWS);
    assert.equal(report.badRows, 0);
    assert.equal(report.badRowFraction, 0);
    assert.deepEqual(report.warnings, []);

    // Every number checked against the CSV itself.
    const csv = parse<Record<string, string>>(await fs.readFile(tiny.result.csvPath), { columns: true });
    assert.equal(csv.length, ROWS);
    const clicks = csv.filter((row) => row.clicked === '1').length;
    assert.ok(clicks > 0 && clicks < ROWS);
    assert.equal(report.clickRate, clicks / ROWS);
    for (const name of ['hour', 'headline_length'] as const) {
      const values = csv.map((row) => Number(row[name]));
      const expectedMean = mean(values);
      const expectedStd = Math.sqrt(mean(values.map((value) => (value - expectedMean) ** 2)));
      const stats = report.numeric[name]!;
      assert.equal(stats.count, ROWS);
      assert.equal(stats.min, Math.min(...values));
      assert.equal(stats.max, Math.max(...values));
      assert.ok(Math.abs(stats.mean - expectedMean) < 1e-9, `${name} mean ${stats.mean} vs ${expectedMean}`);
      assert.ok(Math.abs(stats.std - expectedStd) < 1e-9, `${name} std ${stats.std} vs ${expectedStd}`);
      assert.ok(stats.std > 0);
    }
    for (const name of CATEGORICAL_FEATURES) {
      const expected: Record<string, number> = {};
      for (const row of csv) expected[row[name]!] = (expected[row[name]!] ?? 0) + 1;
      assert.deepEqual(report.vocabularies[name], expected, name);
    }

    const saved = JSON.parse(await fs.readFile(report.reportUri, 'utf8')) as ValidationReport & {
      problems: string[];
    };
    assert.ok(report.reportUri.startsWith(store));
    assert.deepEqual(saved.problems, []);
    assert.equal(saved.validRows, ROWS);
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
    assert.match(warning!, /3 × invalid field/);
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

    const [details] = failure.details as [{ problems: string[]; reportUri: string }];
    assert.equal(details.problems.length >= 1, true);
    assert.match(details.problems[0]!, /^15 of 20 rows are bad/);
    // The report is written even when validation fails, so the reasons survive the failure.
    const saved = JSON.parse(await fs.readFile(details.reportUri, 'utf8')) as {
      problems: string[];
      badRows: number;
    };
    assert.deepEqual(saved.problems, details.problems);
    assert.equal(saved.badRows, 15);
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
});
