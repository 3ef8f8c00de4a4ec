import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { loadModelBundle } from '../../lib/model';
import type { ErrorBody } from '../../serving/errors';
import { LoadedVersion } from '../../serving/loaded-version';
import type { PredictResponse } from '../../serving/routes/predict';
import { createPredictionServer } from '../../serving/server';
import {
  ADMIN,
  ADMIN_TOKEN,
  createServingFixture,
  request,
  validInstance,
  type ServingFixture,
} from './fixture';

describe('server lifecycle', () => {
  let fixture: ServingFixture;
  let v1: string;

  before(async () => {
    fixture = await createServingFixture();
    v1 = await fixture.saveVersion('1');
    await fixture.deploy({ revision: 1, stable: { version: '1', modelUri: v1 } });
  });
  after(() => fixture.close());

  it('frees a retired version only after its in-flight requests release it', async () => {
    const loaded = new LoadedVersion('ctr', '1', v1, await loadModelBundle(v1));
    const release = loaded.acquire();
    loaded.retire();
    assert.equal(loaded.isDisposed, false);
    release();
    release(); // a second release must not count twice
    assert.equal(loaded.isDisposed, true);
  });

  it('stop() lets in-flight requests finish before closing', async () => {
    const server = createPredictionServer({
      storeUri: fixture.storeUri,
      models: ['ctr'],
      adminToken: ADMIN_TOKEN,
      port: 0,
      pollIntervalMs: 60_000,
      faultInjection: true,
    });
    // Stop only once every request has reached the server (and waits in its injected latency),
    // however slowly a busy machine delivers them.
    let arrived = 0;
    server.app.addHook('onRequest', (request, _reply, done) => {
      if (request.url.endsWith(':predict')) arrived += 1;
      done();
    });
    const { url } = await server.start();
    await request(`${url}/admin/faults`, {
      method: 'PUT',
      headers: ADMIN,
      body: { model: 'ctr', version: '1', extraLatencyMs: 1000 },
    });
    const body = { instances: [await validInstance()] };
    const inFlight = Array.from({ length: 20 }, () =>
      request<PredictResponse>(`${url}/v1/models/ctr:predict`, { body }),
    );
    for (let waited = 0; arrived < inFlight.length && waited < 30_000; waited += 10) await sleep(10);
    assert.equal(arrived, inFlight.length);
    await server.stop();
    const results = await Promise.all(inFlight);
    assert.deepEqual(
      results.map((res) => res.status),
      results.map(() => 200),
    );
    await assert.rejects(request(`${url}/healthz`));
  });

  it('listens at once but is not ready, and answers model_loading, until the deployed model has loaded', async () => {
    let releaseLoad: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (releaseLoad = resolve));
    const server = createPredictionServer({
      storeUri: fixture.storeUri,
      models: ['ctr'],
      adminToken: ADMIN_TOKEN,
      port: 0,
      loadBundle: async (uri) => {
        await gate;
        return loadModelBundle(uri);
      },
    });
    try {
      const started = server.start();
      await sleep(100);
      assert.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200);
      const notReady = await server.app.inject({ url: '/readyz' });
      assert.equal(notReady.statusCode, 503);
      assert.equal(notReady.json<ErrorBody>().code, 'not_ready');
      const loading = await server.app.inject({
        method: 'POST',
        url: '/v1/models/ctr:predict',
        payload: { instances: [await validInstance()] },
      });
      assert.equal(loading.statusCode, 503);
      assert.equal(loading.json<ErrorBody>().code, 'model_loading');
      releaseLoad();
      const { url } = await started;
      assert.equal((await request(`${url}/readyz`)).status, 200);
    } finally {
      releaseLoad();
      await server.stop();
    }
  });
});
