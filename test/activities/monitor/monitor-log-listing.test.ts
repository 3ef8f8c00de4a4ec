// Which log parts measureModelHealth lists and reads, on local disk and GCS: the same parts a listing of the
// whole log folder gave, while the store lists nothing from the days and hours before the cursor's.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createMonitorActivities } from '../../../activities/monitor/monitor';
import { joinUri, storageFor, type Storage } from '../../../lib/storage/index';
import type { FeedbackLogRecord } from '../../../lib/traffic/prediction-log-records';
import type { LogCursor, MeasureHealthInput, MonitorMeasurement } from '../../../contracts/monitor';
import { startGcsEmulator } from '../../helpers/gcs-emulator';
import { DRIFT, registerProduction } from './monitor-fixtures';

/** Twenty closed days of a month-old log, then the cursor's day, a gap while the monitor was down, and more. */
const OLD_DAYS = Array.from({ length: 20 }, (_, i) => `2026-01-${String(i + 1).padStart(2, '0')}`);
const PARTS = [
  ...OLD_DAYS.flatMap((day) =>
    ['00', '12', '23'].flatMap((hh) => [`${day}/${hh}-a-000000.jsonl`, `${day}/${hh}-b-000000.jsonl`]),
  ),
  '2026-01-21/03-a-000000.jsonl',
  '2026-01-21/09-b-000007.jsonl',
  '2026-01-21/10-a-000000.jsonl',
  '2026-01-21/10-a-000001.jsonl',
  '2026-01-21/10-b-000000.jsonl',
  '2026-01-21/15-a-000000.jsonl',
  '2026-01-21/23-b-000003.jsonl',
  '2026-01-22/00-a-000000.jsonl',
  '2026-01-25/07-b-000000.jsonl',
];
/** Not parts: never read, on any cursor. */
const OTHER_FILES = ['2026-01-21/11-notes.txt', '2026-01-22/_SUCCESS'];

/** One feedback record of production's version per part, so the labels measured count the parts read. */
function feedbackPart(name: string): string {
  const record: FeedbackLogRecord = {
    ts: '2026-01-21T10:00:00.000Z',
    prediction_id: name,
    model: 'ctr',
    version: '1',
    clicked: 1,
    click_probability: 0.8,
  };
  return `${JSON.stringify(record)}\n`;
}

/** What the monitor read before listings started at the cursor: the whole folder, filtered by hour and name. */
async function partsByFullListing(storage: Storage, root: string, cursor: LogCursor): Promise<string[]> {
  const seen = new Set(cursor.seen);
  return (await storage.list(root)).filter((uri) => {
    const relative = uri.slice(root.length + 1);
    const [day = '', file = ''] = relative.split('/');
    return relative.endsWith('.jsonl') && `${day}/${file.slice(0, 2)}` >= cursor.hour && !seen.has(relative);
  });
}

interface Backend {
  name: string;
  open(): Promise<{ store: string; close(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'local disk',
    async open() {
      const store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-monitor-listing-'));
      return { store, close: () => fs.rm(store, { recursive: true, force: true }) };
    },
  },
  {
    name: 'GCS (fake-gcs-server)',
    async open() {
      const emulator = await startGcsEmulator();
      return { store: emulator.uri('store'), close: () => emulator.close() };
    },
  },
];

for (const backend of BACKENDS) {
  void describe(`monitor log listing on ${backend.name}`, () => {
    let opened: { store: string; close(): Promise<void> } | undefined;
    let store: string;
    let storage: Storage;
    const activities = () => createMonitorActivities({ storeUri: store });
    const measure = (input: MeasureHealthInput) => {
      const monitor = activities();
      return new MockActivityEnvironment(
        { workflowExecution: { workflowId: 'mlops-monitor-ctr', runId: 'run-1' } },
        { logger: new DefaultLogger('ERROR') },
      ).run<[MeasureHealthInput], MonitorMeasurement, typeof monitor.measureModelHealth>(
        (x) => monitor.measureModelHealth(x),
        input,
      );
    };
    const inputFor = (model: string, feedbackCursor: LogCursor, minLabels: number): MeasureHealthInput => ({
      modelName: model,
      iteration: 0,
      predictionsCursor: { hour: '', seen: [] },
      feedbackCursor,
      thresholds: { minLabels },
      drift: DRIFT,
    });

    /** Runs one measurement, recording which objects the store listed and which it read under `root`. */
    async function measureWatching(root: string, input: MeasureHealthInput) {
      const list = mock.method(storage, 'list');
      const listFrom = mock.method(storage, 'listFrom');
      const read = mock.method(storage, 'read');
      try {
        const measurement = await measure(input);
        const under = (uri: string) => uri.startsWith(`${root}/`) || uri === root;
        const listed: string[] = [];
        for (const call of listFrom.mock.calls) {
          if (under(call.arguments[0])) listed.push(...(await call.result!));
        }
        return {
          measurement,
          fullListings: list.mock.calls.filter((call) => under(call.arguments[0])).length,
          listed,
          read: read.mock.calls.map((call) => call.arguments[0]).filter(under),
        };
      } finally {
        list.mock.restore();
        listFrom.mock.restore();
        read.mock.restore();
      }
    }

    before(async () => {
      opened = await backend.open();
      store = opened.store;
      storage = storageFor(store);
      await registerProduction(store, 'ctr');
      await registerProduction(store, 'ctr-live');
      const root = joinUri(store, 'logs', 'ctr', 'feedback');
      for (const name of [...PARTS, ...OTHER_FILES])
        await storage.write(joinUri(root, name), feedbackPart(name));
    });
    after(async () => {
      await opened?.close();
    });

    const CURSORS: Array<{ why: string; cursor: LogCursor }> = [
      { why: 'a first run', cursor: { hour: '', seen: [] } },
      {
        why: 'a cursor within an hour, some of its parts seen',
        cursor: { hour: '2026-01-21/10', seen: ['2026-01-21/10-a-000000.jsonl'] },
      },
      {
        why: 'a cursor days before the newest parts (the monitor was down)',
        cursor: { hour: '2026-01-21/23', seen: [] },
      },
      { why: 'a cursor at the start of a day', cursor: { hour: '2026-01-22/00', seen: [] } },
      { why: 'a cursor past every part', cursor: { hour: '2026-01-26/00', seen: [] } },
    ];
    for (const { why, cursor } of CURSORS) {
      void it(`reads the parts a full listing found, for ${why}`, async () => {
        const root = joinUri(store, 'logs', 'ctr', 'feedback');
        const expected = await partsByFullListing(storage, root, cursor);
        // minLabels out of reach: the measurement reads, and moves no cursor.
        const { measurement, fullListings, listed, read } = await measureWatching(
          root,
          inputFor('ctr', cursor, 1e9),
        );
        assert.deepEqual(read.sort(), expected);
        assert.equal(measurement.labels, expected.length);
        assert.equal(fullListings, 0, 'the log folder is never listed whole');
        const relative = listed.map((uri) => uri.slice(root.length + 1));
        assert.deepEqual(
          relative.filter((name) => name < cursor.hour),
          [],
          'nothing from a day or an hour before the cursor is listed',
        );
        if (cursor.hour !== '')
          assert.ok(listed.length < 20, `listed ${listed.length} of ${PARTS.length} parts`);
      });
    }

    void it('after a first run, reads only the part written since, listing nothing of the old days', async () => {
      const root = joinUri(store, 'logs', 'ctr-live', 'feedback');
      const now = new Date().toISOString();
      const hour = `${now.slice(0, 10)}/${now.slice(11, 13)}`;
      const written = [...OLD_DAYS.map((day) => `${day}/12-a-000000.jsonl`), `${hour}-a-000000.jsonl`];
      for (const name of written) await storage.write(joinUri(root, name), feedbackPart(name));

      const first = await measureWatching(root, inputFor('ctr-live', { hour: '', seen: [] }, 1));
      assert.equal(first.read.length, written.length);
      assert.equal(first.measurement.labels, written.length);
      // The cursor moved to the hours still open (two hours back), remembering the part it read there.
      const cursor = first.measurement.feedbackCursor;
      assert.ok(cursor.hour > OLD_DAYS.at(-1)!, cursor.hour);
      assert.deepEqual(cursor.seen, [`${hour}-a-000000.jsonl`]);

      const fresh = `${hour}-b-000000.jsonl`;
      await storage.write(joinUri(root, fresh), feedbackPart(fresh));
      const second = await measureWatching(root, { ...inputFor('ctr-live', cursor, 1), iteration: 1 });
      assert.deepEqual(second.read, [joinUri(root, fresh)]);
      assert.equal(second.measurement.labels, 1);
      assert.equal(second.fullListings, 0);
      assert.deepEqual(
        second.listed.map((uri) => uri.slice(root.length + 1)),
        [`${hour}-a-000000.jsonl`, fresh],
        'only the open hours are listed',
      );
    });
  });
}
