// measureModelHealth and recordMonitorAlert over a real store: quality from feedback logs, cursors, alerts.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createMonitorActivities } from '../../../activities/monitor/monitor';
import type { FeedbackLogRecord } from '../../../lib/traffic/prediction-log-records';
import type { MeasureHealthInput, MonitorMeasurement, RecordAlertInput } from '../../../contracts/monitor';
import { DRIFT, registerProduction } from './monitor-fixtures';

function feedback(version: string, count: number, wrong: boolean): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const clicked = (i % 2) as 0 | 1;
    // A model that is confidently wrong has a high log loss and an AUC of 0.
    const p = wrong ? (clicked ? 0.1 : 0.9) : clicked ? 0.8 : 0.2;
    const record: FeedbackLogRecord = {
      ts: new Date().toISOString(),
      prediction_id: `p${i}`,
      model: 'ctr',
      version,
      clicked,
      click_probability: p,
    };
    lines.push(JSON.stringify(record));
  }
  return `${lines.join('\n')}\n`;
}

describe('monitor activities', () => {
  let store: string;
  const env = () =>
    new MockActivityEnvironment(
      { workflowExecution: { workflowId: 'mlops-monitor-ctr', runId: 'run-1' } },
      { logger: new DefaultLogger('ERROR') },
    );

  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-monitor-'));
    await registerProduction(store, 'ctr');
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  it('measures live quality of the production version from new feedback parts only, and flags its decay', async () => {
    const activities = createMonitorActivities({ storeUri: store });
    const measure = (i: MeasureHealthInput) =>
      env().run<[MeasureHealthInput], MonitorMeasurement, typeof activities.measureModelHealth>(
        (x) => activities.measureModelHealth(x),
        i,
      );
    const day = new Date().toISOString().slice(0, 10);
    const hour = new Date().toISOString().slice(11, 13);
    const folder = path.join(store, 'logs', 'ctr', 'feedback', day);
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(path.join(folder, `${hour}-a-000000.jsonl`), feedback('1', 60, true));
    // Labels of another version are not production's.
    await fs.writeFile(path.join(folder, `${hour}-a-000001.jsonl`), feedback('7', 60, false));
    const input: MeasureHealthInput = {
      modelName: 'ctr',
      iteration: 0,
      predictionsCursor: { hour: '', seen: [] },
      feedbackCursor: { hour: '', seen: [] },
      thresholds: { minLabels: 50, maxLogLoss: 1, minAuc: 0.55 },
      drift: DRIFT,
    };
    const first = await measure(input);
    assert.equal(first.productionVersion, '1');
    assert.equal(first.labels, 60);
    assert.equal(first.auc, 0);
    assert.ok(first.logLoss! > 1, `log loss ${first.logLoss}`);
    assert.deepEqual(first.triggers.map((t) => t.kind).sort(), ['auc', 'log-loss']);
    assert.ok(first.notes.some((note) => note.includes('drift not measured')));

    const again = await measure({
      ...input,
      iteration: 1,
      feedbackCursor: first.feedbackCursor,
    });
    assert.equal(again.labels, 0, 'parts already read are not read again');
    assert.deepEqual(again.triggers, []);

    await fs.writeFile(path.join(folder, `${hour}-b-000000.jsonl`), feedback('1', 60, false));
    const third = await measure({
      ...input,
      iteration: 2,
      feedbackCursor: again.feedbackCursor,
    });
    assert.equal(third.labels, 60);
    assert.equal(third.auc, 1);
    assert.deepEqual(third.triggers, []);
    const recorded = await fs.readdir(path.join(store, 'monitoring', 'ctr', 'measurements', day));
    assert.equal(recorded.length, 3);
  });

  it('records an alert as a file', async () => {
    const activities = createMonitorActivities({ storeUri: store });
    const at = new Date().toISOString();
    const alert: RecordAlertInput = {
      modelName: 'ctr',
      iteration: 4,
      at,
      productionVersion: '1',
      triggers: [{ kind: 'auc', message: 'live AUC 0.4 < 0.55' }],
    };
    const run = env().run((i: RecordAlertInput) => activities.recordMonitorAlert(i), alert);
    const uri = (await run) as string;
    const written = JSON.parse(await fs.readFile(uri, 'utf8')) as { triggers: unknown[] };
    assert.equal(written.triggers.length, 1);
  });
});
