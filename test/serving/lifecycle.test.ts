import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { loadModelBundle } from '../../lib/model';
import { LoadedVersion } from '../../serving/loaded-version';
import type { PredictResponse } from '../../serving/routes/predict';
import { ADMIN, createServingFixture, request, validInstance, type ServingFixture } from './fixture';

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
    const { url, server } = await fixture.start();
    await request(`${url}/admin/faults`, {
      method: 'PUT',
      headers: ADMIN,
      body: { model: 'ctr', version: '1', extraLatencyMs: 300 },
    });
    const body = { instances: [await validInstance()] };
    const inFlight = Array.from({ length: 20 }, () =>
      request<PredictResponse>(`${url}/v1/models/ctr:predict`, { body }),
    );
    await sleep(100);
    await server.stop();
    const results = await Promise.all(inFlight);
    assert.deepEqual(
      results.map((res) => res.status),
      results.map(() => 200),
    );
    await assert.rejects(request(`${url}/healthz`));
  });

  it('is not ready until a deployed model has loaded, and listens meanwhile', async () => {
    let releaseLoad: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (releaseLoad = resolve));
    const { server } = { server: undefined as unknown };
    void server;
    const started = fixture.start({
      loadBundle: async (uri) => {
        await gate;
        return loadModelBundle(uri);
      },
    });
    // start() resolves after the first load, so probe through the app while it is blocked.
    await sleep(100);
    releaseLoad();
    const { url } = await started;
    assert.equal((await request(`${url}/readyz`)).status, 200);
  });
});
