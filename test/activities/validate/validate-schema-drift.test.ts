import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { ActivityDeps } from '../../../activities/deps';
import type { IngestResult } from '../../../contracts/ingest';
import {
  createValidateActivities,
  statisticsUriOfRun,
  type ValidateInput,
  type ValidationResult,
} from '../../../activities/validate/validate';
import type { Anomaly } from '../../../lib/dataset/anomalies';
import type { DatasetSchema } from '../../../activities/validate/schema-inference';
import { makeSyntheticShards } from '../../helpers/synthetic-shards';

const MODEL = 'ctr';
/** Above data.validation.drift.minRows (300) on both sides. */
const ROWS = 800;

let store: string;
let deps: ActivityDeps;
let runCounter = 0;

/** Runs validateDataset as run `runId` of a pipeline (a fresh run unless told). */
function validate(
  ingest: IngestResult,
  extra: Partial<ValidateInput> = {},
  runId = `run-${++runCounter}`,
): Promise<ValidationResult> {
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'validate-schema-drift', runId } },
    { logger: new DefaultLogger('ERROR') },
  );
  const run = (input: ValidateInput) => createValidateActivities(deps).validateDataset(input);
  return env.run<[ValidateInput], ValidationResult, typeof run>(run, {
    ingest,
    maxBadRowFraction: 0.1,
    minRows: 20,
    modelName: MODEL,
    ...extra,
  });
}

async function validationFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const caught = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(caught instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(caught)}`);
  assert.equal(caught.nonRetryable, true);
  assert.equal(caught.type, 'DataValidationFailed');
  return caught;
}

const schemaUri = () => path.join(store, 'schemas', MODEL, 'schema.json');
const kinds = (anomalies: Anomaly[]) =>
  anomalies.map((anomaly) => `${anomaly.kind} ${anomaly.feature ?? ''}`.trim());

void describe('validateDataset: schema', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-validate-schema-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it("infers the model's schema from its first dataset, then checks later datasets against it", async () => {
    await using first = await makeSyntheticShards({ rows: 300, seed: 1 });
    const created = await validate(first.ingest, {}, 'first-run');
    assert.equal(created.schemaCreated, true);
    assert.equal(created.schemaUri, schemaUri());
    const schema = JSON.parse(await fs.readFile(schemaUri(), 'utf8')) as DatasetSchema;
    assert.equal(schema.model, MODEL);
    assert.equal(schema.inferredFrom.dataUri, first.ingest.dataUri);
    assert.deepEqual(schema.features.device!.domain, ['desktop', 'mobile', 'tablet']);
    assert.equal(schema.features.hour!.type, 'float');

    // A retry of the same run knows it made the schema; the file is not rewritten.
    const retried = await validate(first.ingest, {}, 'first-run');
    assert.equal(retried.schemaCreated, true);
    assert.equal(await fs.readFile(schemaUri(), 'utf8'), JSON.stringify(schema, null, 2));

    await using later = await makeSyntheticShards({ rows: 300, seed: 2 });
    const checked = await validate(later.ingest);
    assert.equal(checked.schemaCreated, false);
    assert.deepEqual(checked.warnings, []);
    const report = await fs.readFile(checked.reportUri, 'utf8');
    assert.ok(report.includes(schemaUri()), report);
  });

  void it('warns about a new advertiser in a few rows, and fails a dataset whose advertisers are mostly unknown', async () => {
    await using few = await makeSyntheticShards({
      rows: 300,
      seed: 3,
      mutate: (example, index) => (index % 10 === 0 ? { ...example, advertiser: 'helix' } : example),
    });
    const warned = await validate(few.ingest);
    assert.deepEqual(kinds(warned.anomalies), ['out_of_vocabulary advertiser']);
    assert.match(
      warned.warnings[0]!,
      /^advertiser: 10\.0% of values \(30 of 300\) are not in the schema's 7 known values \(most frequent: "helix" × 30\)/,
    );

    await using most = await makeSyntheticShards({
      rows: 300,
      seed: 4,
      mutate: (example, index) => ({
        ...example,
        advertiser: `renamed-${index % 5}`,
        hour: index < 30 ? 40 : example.hour,
      }),
    });
    const failure = await validationFailure(validate(most.ingest));
    assert.match(
      failure.message,
      new RegExp(
        `^Data validation failed for ${most.ingest.dataUri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `,
      ),
    );
    assert.match(
      failure.message,
      /advertiser: 100\.0% of values \(300 of 300\) are not in the schema's 7 known values/,
    );
    assert.match(failure.message, /hour: 10\.0% of values \(30 of 300\) are outside the schema's range/);
    const [details] = failure.details as [{ anomalies: Anomaly[]; reportUri: string }];
    assert.deepEqual(kinds(details.anomalies).sort(), ['out_of_range hour', 'out_of_vocabulary advertiser']);
    const report = await fs.readFile(details.reportUri, 'utf8');
    assert.match(report, /\| critical \| advertiser \| out_of_vocabulary \|/);
    assert.match(report, /\| critical \| hour \| out_of_range \|/);
  });

  void it('makes no schema from a dataset that fails, and agrees on one schema when first runs race', async () => {
    await using bad = await makeSyntheticShards({ rows: 300, seed: 5 });
    await validationFailure(validate(bad.ingest, { modelName: 'racing', minRows: 10_000 }));
    const racingSchema = path.join(store, 'schemas', 'racing', 'schema.json');
    await assert.rejects(fs.access(racingSchema));

    await using a = await makeSyntheticShards({ rows: 300, seed: 6 });
    await using b = await makeSyntheticShards({ rows: 300, seed: 7 });
    const results = await Promise.all([
      validate(a.ingest, { modelName: 'racing' }),
      validate(b.ingest, { modelName: 'racing' }),
      validate(a.ingest, { modelName: 'racing' }),
    ]);
    assert.equal(results.filter((result) => result.schemaCreated).length, 1);
    const stored = JSON.parse(await fs.readFile(racingSchema, 'utf8')) as DatasetSchema;
    assert.ok([a.ingest.dataUri, b.ingest.dataUri].includes(stored.inferredFrom.dataUri));
  });

  void it('skips the schema, saying so in the report, when no model is named', async () => {
    await using shards = await makeSyntheticShards({ rows: 100, seed: 8 });
    const result = await validate(shards.ingest, { modelName: undefined });
    assert.equal(result.schemaUri, undefined);
    assert.match(await fs.readFile(result.reportUri, 'utf8'), /schema not checked: no model name was given/);
  });
});

void describe('validateDataset: drift', () => {
  let baselineStatisticsUri: string;

  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-validate-drift-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
    await using baseline = await makeSyntheticShards({ rows: ROWS, seed: 21 });
    baselineStatisticsUri = (await validate(baseline.ingest, {}, 'baseline-run')).statisticsUri;
    // What a registry lookup derives from the production version's lineage.run.
    assert.equal(
      statisticsUriOfRun(store, { workflowId: 'validate-schema-drift', runId: 'baseline-run' }),
      baselineStatisticsUri,
    );
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('measures no drift in a dataset of the same distribution', async () => {
    await using same = await makeSyntheticShards({ rows: ROWS, seed: 22 });
    const result = await validate(same.ingest, { baselineStatisticsUri });
    assert.deepEqual(result.warnings, []);
    assert.equal(result.drift!.measured, true);
    assert.equal(result.drift!.baselineStatisticsUri, baselineStatisticsUri);
    assert.equal(result.drift!.features.length, 7);
    assert.ok(
      result.drift!.features.every((drift) => drift.level === 'none'),
      JSON.stringify(result.drift),
    );
  });

  void it('warns about the drifted features of a --drift dataset, without failing by default', async () => {
    await using drifted = await makeSyntheticShards({ rows: ROWS, seed: 23, drift: true });
    const result = await validate(drifted.ingest, { baselineStatisticsUri });
    const drifts = result.anomalies.filter((anomaly) => anomaly.kind === 'drift');
    assert.deepEqual(drifts.map((anomaly) => anomaly.feature).sort(), ['advertiser', 'device', 'hour']);
    assert.ok(drifts.every((anomaly) => anomaly.severity === 'warning'));
    // The new advertiser is also outside the schema's vocabulary: a warning at 20% of rows.
    assert.deepEqual(kinds(result.anomalies.filter((anomaly) => anomaly.kind !== 'drift')), [
      'out_of_vocabulary advertiser',
    ]);
    assert.ok(
      result.warnings.some((warning) => warning.startsWith('hour: major drift')),
      result.warnings.join('\n'),
    );
    const report = await fs.readFile(result.reportUri, 'utf8');
    assert.match(report, /## Drift from the production model's training data/);
    assert.match(report, /\| hour \| PSI \| \d+\.\d{4} \| 0\.\d{4} \| critical \|/);

    const failure = await validationFailure(
      validate(drifted.ingest, { baselineStatisticsUri, validation: { drift: { failOnCritical: true } } }),
    );
    assert.match(failure.message, /hour: major drift from the production model's training data: PSI/);
  });

  void it('warns that drift was not measured when the baseline statistics are missing', async () => {
    await using same = await makeSyntheticShards({ rows: ROWS, seed: 24 });
    const missing = path.join(store, 'runs', 'gone', 'validate', 'statistics.json');
    const result = await validate(same.ingest, { baselineStatisticsUri: missing });
    assert.deepEqual(kinds(result.anomalies), ['drift_not_measured']);
    assert.equal(
      result.warnings[0],
      `drift from the production model's training data not measured: no statistics at ${missing} (a model trained before statistics were recorded?)`,
    );
    assert.equal(result.drift, undefined);
  });
});
