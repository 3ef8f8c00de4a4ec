import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { PartFileWriter } from '../../serving/part-file-writer';
import type { FeedbackLogRecord, PredictionLogRecord } from '../../lib/traffic/prediction-log-records';
import type { FeedbackResponse } from '../../serving/routes/feedback-schema';
import type { PredictResponse } from '../../serving/routes/predict';
import { createServingFixture, pngBase64, request, validInstance, type ServingFixture } from './fixture';

/** Every file under `dir`, relative, sorted; none when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

async function readRecords<T>(dir: string): Promise<T[]> {
  const records: T[] = [];
  for (const file of await filesUnder(dir)) {
    const text = await fs.readFile(path.join(dir, file), 'utf8');
    for (const line of text.split('\n').filter((l) => l.length > 0)) records.push(JSON.parse(line) as T);
  }
  return records;
}

describe('prediction and feedback logs', () => {
  let fixture: ServingFixture;
  let imagePath: string;

  before(async () => {
    fixture = await createServingFixture();
    const modelUri = await fixture.saveVersion('4');
    await fixture.deploy({ revision: 1, stable: { version: '4', modelUri } });
    imagePath = path.join(fixture.storeUri, 'images', 'ad.png');
    await fs.mkdir(path.dirname(imagePath));
    await fs.writeFile(imagePath, Buffer.from(await pngBase64(), 'base64'));
  });
  after(() => fixture.close());

  it('writes one record per predicted instance and per joined feedback to the store by stop()', async () => {
    const { url, server } = await fixture.start({
      replicaId: 'replica-a',
      imageUriRoots: [path.dirname(imagePath)],
      logFlushIntervalMs: 60_000,
      batching: { maxBatchSize: 8, maxWaitMs: 5 },
    });
    const answer = await request<PredictResponse>(`${url}/v1/models/ctr:predict`, {
      body: {
        instances: [
          await validInstance({ device: ' desktop ', hour: 5 }),
          await validInstance({ image_b64: undefined, image_uri: imagePath }),
        ],
      },
    });
    assert.equal(answer.status, 200);
    const [first, second] = answer.body.predictions;
    const feedback = await request<FeedbackResponse>(`${url}/v1/feedback`, {
      body: {
        feedback: [
          { prediction_id: first?.prediction_id, clicked: 1 },
          { prediction_id: 'bogus', clicked: 0 },
        ],
      },
    });
    assert.equal(feedback.body.accepted, 1);
    await server.stop();

    const logs = path.join(fixture.storeUri, 'logs', 'ctr');
    const predictions = await readRecords<PredictionLogRecord>(path.join(logs, 'predictions'));
    const [date, time] = (predictions[0]?.ts ?? '').split('T');
    assert.deepEqual(await filesUnder(path.join(logs, 'predictions')), [
      `${date}/${time?.slice(0, 2)}-replica-a-000000.jsonl`,
    ]);
    assert.equal(predictions.length, 2);
    const [p1, p2] = predictions;
    assert.deepEqual(Object.keys(p1 ?? {}).sort(), [
      'click_probability',
      'features',
      'latency_ms',
      'model',
      'prediction_id',
      'role',
      'ts',
      'version',
    ]);
    assert.deepEqual(
      { ...p1, ts: undefined, latency_ms: undefined },
      {
        ts: undefined,
        latency_ms: undefined,
        prediction_id: first?.prediction_id,
        model: 'ctr',
        version: '4',
        role: 'stable',
        features: {
          advertiser: 'acme',
          category: 'shoes',
          placement: 'feed',
          device: 'desktop',
          hour: 5,
          headline_length: 42,
        },
        click_probability: first?.click_probability,
      },
    );
    assert.ok(typeof p1?.latency_ms === 'number' && p1.latency_ms > 0);
    assert.ok(Math.abs(Date.parse(p1?.ts ?? '') - Date.now()) < 60_000);
    assert.equal(p2?.prediction_id, second?.prediction_id);
    assert.equal(p2?.features.image_uri, imagePath);
    assert.doesNotMatch(JSON.stringify(predictions), /image_b64|iVBOR/);

    const feedbackRecords = await readRecords<FeedbackLogRecord>(path.join(logs, 'feedback'));
    assert.deepEqual(
      feedbackRecords.map((record) => ({ ...record, ts: undefined })),
      [
        {
          ts: undefined,
          prediction_id: first?.prediction_id,
          model: 'ctr',
          version: '4',
          clicked: 1,
          click_probability: first?.click_probability,
        },
      ],
    );
  });

  it('flushes while running, and writes nothing when logging is off', async () => {
    const { url } = await fixture.start({ replicaId: 'replica-b', logFlushIntervalMs: 100 });
    const body = { instances: [await validInstance()] };
    await request(`${url}/v1/models/ctr:predict`, { body });
    await sleep(400);
    const logs = path.join(fixture.storeUri, 'logs', 'ctr', 'predictions');
    assert.equal((await filesUnder(logs)).filter((file) => file.includes('replica-b')).length, 1);

    const silent = await fixture.start({ replicaId: 'replica-c', logPredictions: false });
    await request(`${silent.url}/v1/models/ctr:predict`, { body });
    await silent.server.stop();
    assert.equal((await filesUnder(logs)).filter((file) => file.includes('replica-c')).length, 0);
  });
});

describe('PartFileWriter', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-parts-'));
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  function writer(rootUri: string, overrides: { maxPartBytes?: number; maxPendingBytes?: number } = {}) {
    const events = { dropped: 0, errors: 0 };
    const parts = new PartFileWriter({
      rootUri,
      replicaId: 'r1',
      maxPartBytes: overrides.maxPartBytes ?? 1024 * 1024,
      maxPendingBytes: overrides.maxPendingBytes ?? 1024 * 1024,
      onDrop: (count) => (events.dropped += count),
      onError: () => (events.errors += 1),
    });
    return { parts, events };
  }

  it('rolls parts by UTC hour and by size, never rewriting a written part', async () => {
    const root = path.join(dir, 'rolls');
    const { parts } = writer(root, { maxPartBytes: 100 });
    const at = (iso: string) => new Date(iso);
    parts.append({ n: 1 }, at('2025-03-01T23:59:59Z'));
    parts.append({ n: 2 }, at('2025-03-02T00:00:01Z'));
    await parts.flush();
    parts.append({ n: 3 }, at('2025-03-02T00:10:00Z'));
    for (let n = 4; n < 12; n++) parts.append({ n, pad: 'x'.repeat(20) }, at('2025-03-02T00:20:00Z'));
    await parts.flush();
    await parts.flush(); // nothing buffered: no empty part
    const files = await filesUnder(root);
    assert.deepEqual(files, [
      '2025-03-01/23-r1-000000.jsonl',
      '2025-03-02/00-r1-000000.jsonl',
      '2025-03-02/00-r1-000001.jsonl',
      '2025-03-02/00-r1-000002.jsonl',
      '2025-03-02/00-r1-000003.jsonl',
    ]);
    assert.equal(await fs.readFile(path.join(root, files[1] ?? ''), 'utf8'), '{"n":2}\n');
    const all = await readRecords<{ n: number }>(root);
    assert.deepEqual(
      all.map((record) => record.n),
      Array.from({ length: 11 }, (_, i) => i + 1),
    );
  });

  it('keeps a part whose write failed and writes it on a later flush; drops the oldest beyond the bound', async () => {
    const blocker = path.join(dir, 'blocker');
    await fs.writeFile(blocker, 'a file where the log folder should be');
    const root = path.join(blocker, 'logs');
    const { parts, events } = writer(root, { maxPendingBytes: 40 });
    const at = new Date('2025-03-02T05:00:00Z');
    parts.append({ n: 1 }, at);
    await parts.flush();
    assert.equal(events.errors, 1);
    await fs.rm(blocker);
    await parts.flush();
    assert.deepEqual(await filesUnder(root), ['2025-03-02/05-r1-000000.jsonl']);

    await fs.rm(blocker, { recursive: true });
    await fs.writeFile(blocker, 'blocked again');
    for (let n = 2; n < 7; n++) {
      parts.append({ n, pad: 'y'.repeat(10) }, at);
      await parts.flush();
    }
    assert.ok(events.dropped >= 3, `dropped ${events.dropped}`);
    await fs.rm(blocker);
    await parts.flush();
    const kept = await readRecords<{ n: number }>(root);
    assert.deepEqual(
      kept.map((record) => record.n),
      [6],
    );
  });
});
