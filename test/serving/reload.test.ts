import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { loadModelBundle } from '../../lib/model';
import type { PredictResponse } from '../../serving/routes/predict';
import { ADMIN, createServingFixture, request, validInstance, type ServingFixture } from './fixture';

describe('reloading under load', () => {
  let fixture: ServingFixture;
  let url: string;
  let v2: string;

  before(async () => {
    fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    v2 = await fixture.saveVersion('2');
    await fixture.deploy({ revision: 1, stable: { version: '1', modelUri: v1 } });
    // A slow store: the new version takes a while to load, so requests overlap the whole reload.
    ({ url } = await fixture.start({
      loadBundle: async (uri) => {
        await sleep(150);
        return loadModelBundle(uri);
      },
    }));
  });
  after(() => fixture.close());

  it('fails no request while switching from version 1 to 2 with 200 requests in flight', async () => {
    const instance = await validInstance();
    const predictUrl = `${url}/v1/models/ctr:predict`;
    const results: Array<{ status: number; version: string }> = [];
    let stop = false;
    const CONCURRENCY = 200;
    const client = async () => {
      while (!stop) {
        const res = await request<PredictResponse>(predictUrl, { body: { instances: [instance] } });
        results.push({ status: res.status, version: res.body.model_version });
      }
    };
    const clients = Array.from({ length: CONCURRENCY }, () => client());
    // Counts, not sleeps: a busy machine only makes these waits longer, never the test wrong.
    const answered = async (count: number, version?: string) => {
      while (results.filter((result) => version === undefined || result.version === version).length < count) {
        await sleep(10);
      }
    };

    await answered(CONCURRENCY, '1');
    await fixture.deploy({ revision: 2, stable: { version: '2', modelUri: v2 } });
    const reload = await request<{ revisions: Record<string, number> }>(`${url}/admin/reload`, {
      method: 'POST',
      headers: ADMIN,
    });
    assert.equal(reload.status, 200);
    assert.deepEqual(reload.body.revisions, { ctr: 2 });
    await answered(CONCURRENCY, '2');
    stop = true;
    await Promise.all(clients);

    const failures = results.filter((result) => result.status !== 200);
    assert.deepEqual(failures, []);
    const versions = new Set(results.map((result) => result.version));
    assert.deepEqual([...versions].sort(), ['1', '2']);
    // After the reload answered, every new request is served by version 2.
    assert.equal(
      (await request<PredictResponse>(predictUrl, { body: { instances: [instance] } })).body.model_version,
      '2',
    );
  });

  it('picks up a new deployment by polling, without /admin/reload', async () => {
    const poller = await fixture.start({ pollIntervalMs: 50 });
    await fixture.deploy({
      revision: 3,
      stable: { version: '1', modelUri: `${fixture.storeUri}/models/ctr/1` },
    });
    const deadline = Date.now() + 5_000;
    let version = '';
    while (Date.now() < deadline && version !== '1') {
      await sleep(50);
      const res = await request<PredictResponse>(`${poller.url}/v1/models/ctr:predict`, {
        body: { instances: [await validInstance()] },
      });
      version = res.body.model_version;
    }
    assert.equal(version, '1');
  });
});
