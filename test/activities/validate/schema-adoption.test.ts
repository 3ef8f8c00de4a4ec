/**
 * A retraining the monitor started for a data shift: validation expects moved data (warnings, not
 * failures) and says how the schema would widen; adoptSchemaChanges widens it, once, with a revision.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { ActivityDeps } from '../../../activities/deps';
import {
  createSchemaActivities,
  type AdoptSchemaChangesInput,
  type AdoptSchemaChangesResult,
} from '../../../activities/validate/schema-activities';
import {
  createValidateActivities,
  type ValidateInput,
  type ValidationResult,
} from '../../../activities/validate/validate';
import type { EvolvingSchema } from '../../../activities/validate/schema-evolution';
import { makeSyntheticShards } from '../../helpers/synthetic-shards';

const MODEL = 'shifting';
const REASON = 'retraining for a data shift, started by mlops-monitor-shifting';

let store: string;
let deps: ActivityDeps;
let runs = 0;

function activityEnv() {
  return new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'schema-adoption', runId: `run-${++runs}` } },
    { logger: new DefaultLogger('ERROR') },
  );
}

function validate(
  input: Omit<ValidateInput, 'maxBadRowFraction' | 'minRows' | 'modelName'> & Partial<ValidateInput>,
) {
  const run = (full: ValidateInput) => createValidateActivities(deps).validateDataset(full);
  return activityEnv().run<[ValidateInput], ValidationResult, typeof run>(run, {
    maxBadRowFraction: 0.1,
    minRows: 20,
    modelName: MODEL,
    ...input,
  });
}

function adopt(input: AdoptSchemaChangesInput) {
  const run = (full: AdoptSchemaChangesInput) => createSchemaActivities(deps).adoptSchemaChanges(full);
  return activityEnv().run<[AdoptSchemaChangesInput], AdoptSchemaChangesResult, typeof run>(run, input);
}

const readSchema = async () =>
  JSON.parse(await fs.readFile(path.join(store, 'schemas', MODEL, 'schema.json'), 'utf8')) as EvolvingSchema;

/** Rows whose advertisers are all new and a tenth of whose hours are far outside the schema's range. */
const shifted = (example: { advertiser: string; hour: number }, index: number) => ({
  ...example,
  advertiser: `renamed-${index % 3}`,
  hour: index % 10 === 0 ? 40 : example.hour,
});

void describe('schema adoption after a data-shift retraining', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-schema-adoption-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('accepts moved data with warnings, widens the schema only when adopted, and only once', async () => {
    await using first = await makeSyntheticShards({ rows: 300, seed: 1 });
    assert.equal((await validate({ ingest: first.ingest })).schemaCreated, true);
    const original = await readSchema();

    await using moved = await makeSyntheticShards({
      rows: 300,
      seed: 2,
      mutate: (example, index) => ({ ...example, ...shifted(example, index) }),
    });
    // A normal run fails on it ...
    const failure = await validate({ ingest: moved.ingest }).catch((err: unknown) => err);
    assert.ok(failure instanceof ApplicationFailure && failure.type === 'DataValidationFailed');

    // ... a data-shift retraining passes, saying why each finding is only a warning.
    const accepted = await validate({ ingest: moved.ingest, expectedShift: { reason: REASON } });
    const shiftFindings = accepted.anomalies.filter((a) =>
      ['out_of_range', 'out_of_vocabulary'].includes(a.kind),
    );
    assert.deepEqual(shiftFindings.map((a) => `${a.kind} ${a.feature}`).sort(), [
      'out_of_range hour',
      'out_of_vocabulary advertiser',
    ]);
    assert.ok(
      shiftFindings.every((a) => a.severity === 'warning' && a.message.startsWith(`expected (${REASON}): `)),
    );
    assert.deepEqual(accepted.schemaChanges, [
      `advertiser: domain + "renamed-0", "renamed-1", "renamed-2"`,
      `hour: range [${original.features.hour!.range!.min}, ${original.features.hour!.range!.max}] → [${original.features.hour!.range!.min}, 40]`,
    ]);
    // Validation alone changes nothing: a candidate that is then rejected must not loosen the checks.
    assert.deepEqual(await readSchema(), original);

    const adopted = await adopt({
      modelName: MODEL,
      statisticsUri: accepted.statisticsUri,
      reason: 'v2 reached production',
    });
    assert.deepEqual(adopted.changes, accepted.schemaChanges);
    const widened = await readSchema();
    assert.deepEqual(widened.features.hour!.range, { min: original.features.hour!.range!.min, max: 40 });
    assert.deepEqual(
      widened.features.advertiser!.domain,
      [...original.features.advertiser!.domain!, 'renamed-0', 'renamed-1', 'renamed-2'].sort(),
    );
    assert.equal(widened.revisions?.length, 1);
    assert.equal(widened.revisions[0]!.reason, 'v2 reached production');
    assert.equal(widened.revisions[0]!.by.workflowId, 'schema-adoption');
    assert.deepEqual(widened.revisions[0]!.changes, accepted.schemaChanges);
    assert.deepEqual(widened.inferredFrom, original.inferredFrom);

    // A retry (or a second pipeline on the same data) finds nothing left to widen.
    const again = await adopt({ modelName: MODEL, statisticsUri: accepted.statisticsUri, reason: 'retry' });
    assert.deepEqual(again.changes, []);
    assert.equal((await readSchema()).revisions?.length, 1);

    // The same data now validates cleanly as an ordinary run.
    const clean = await validate({ ingest: moved.ingest });
    assert.deepEqual(
      clean.anomalies.filter((a) => a.kind !== 'drift').map((a) => a.kind),
      [],
    );
  });

  void it('still fails a data-shift retraining on what a shift does not explain', async () => {
    await using few = await makeSyntheticShards({ rows: 300, seed: 3 });
    const failure = await validate({
      ingest: few.ingest,
      minRows: 10_000,
      expectedShift: { reason: REASON },
    }).catch((err: unknown) => err);
    assert.ok(
      failure instanceof ApplicationFailure && failure.type === 'DataValidationFailed',
      String(failure),
    );
    assert.match(failure.message, /too_few_rows|rows/);
  });

  void it('refuses to adopt statistics that are not there, naming the file', async () => {
    const missing = path.join(store, 'runs', 'gone', 'validate', 'statistics.json');
    await assert.rejects(adopt({ modelName: MODEL, statisticsUri: missing, reason: 'x' }), {
      message: `${missing} holds no mlops-statistics/1 statistics to widen the schema to`,
    });
  });
});
