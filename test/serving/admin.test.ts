import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../serving/errors';
import type { PredictResponse } from '../../serving/routes/predict';
import { ADMIN, createServingFixture, request, validInstance, type ServingFixture } from './fixture';

describe('admin routes', () => {
  let fixture: ServingFixture;
  let url: string;
  let v1: string;
  let v2: string;

  before(async () => {
    fixture = await createServingFixture();
    v1 = await fixture.saveVersion('1');
    v2 = await fixture.saveVersion('2');
    await fixture.deploy({ revision: 1, stable: { version: '1', modelUri: v1 } });
    ({ url } = await fixture.start());
  });
  after(() => fixture.close());

  const predict = async (headers: Record<string, string> = {}) =>
    request<PredictResponse & ErrorBody>(`${url}/v1/models/ctr:predict`, {
      body: { instances: [await validInstance()] },
      headers,
    });

  it('refuses admin calls without a token (401) and with a wrong one (403)', async () => {
    for (const [method, path] of [
      ['POST', '/admin/reload'],
      ['GET', '/admin/faults'],
      ['PUT', '/admin/faults'],
      ['DELETE', '/admin/faults'],
    ] as const) {
      const missing = await request<ErrorBody>(`${url}${path}`, { method });
      assert.equal(missing.status, 401, `${method} ${path}`);
      assert.equal(missing.body.code, 'unauthorized');
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
      const wrong = await request<ErrorBody>(`${url}${path}`, {
        method,
        headers: { authorization: 'Bearer nope' },
      });
      assert.equal(wrong.status, 403, `${method} ${path}`);
      assert.equal(wrong.body.code, 'forbidden');
    }
  });

  it('serves the new version after a new deployment state and /admin/reload', async () => {
    assert.equal((await predict()).body.model_version, '1');
    await fixture.deploy({ revision: 2, stable: { version: '2', modelUri: v2 } });
    const reload = await request<{ revisions: Record<string, number> }>(`${url}/admin/reload`, {
      method: 'POST',
      headers: ADMIN,
    });
    assert.equal(reload.status, 200);
    assert.deepEqual(reload.body.revisions, { ctr: 2 });
    const res = await predict();
    assert.equal(res.body.model_version, '2');
    assert.equal(res.headers.get('x-model-version'), '2');
  });

  it('keeps serving the old version when the new one cannot load, and says so on reload', async () => {
    await fixture.deploy({
      revision: 3,
      stable: { version: '9', modelUri: `${fixture.storeUri}/models/ctr/missing` },
    });
    const reload = await request<ErrorBody & { revisions: Record<string, number> }>(`${url}/admin/reload`, {
      method: 'POST',
      headers: ADMIN,
    });
    assert.equal(reload.status, 503);
    assert.equal(reload.body.code, 'reload_failed');
    assert.deepEqual(reload.body.revisions, { ctr: 2 });
    assert.equal((await predict()).body.model_version, '2');
    const status = await request<{ deployment_revision: number; desired_revision: number }>(
      `${url}/v1/models/ctr`,
    );
    assert.equal(status.body.deployment_revision, 2);
    assert.equal(status.body.desired_revision, 3);
    await fixture.deploy({ revision: 4, stable: { version: '2', modelUri: v2 } });
    assert.equal((await request(`${url}/admin/reload`, { method: 'POST', headers: ADMIN })).status, 200);
  });

  it('validates fault bodies and refuses unknown models', async () => {
    const typo = await request<ErrorBody>(`${url}/admin/faults`, {
      method: 'PUT',
      headers: ADMIN,
      body: { model: 'ctr', version: '2', error_rate: 1 },
    });
    assert.equal(typo.status, 400);
    assert.match(typo.body.error, /must NOT have additional properties: error_rate/);
    const range = await request<ErrorBody>(`${url}/admin/faults`, {
      method: 'PUT',
      headers: ADMIN,
      body: { model: 'ctr', version: '2', errorRate: 2 },
    });
    assert.equal(range.status, 400);
    const unknown = await request<ErrorBody>(`${url}/admin/faults`, {
      method: 'PUT',
      headers: ADMIN,
      body: { model: 'nope', version: '2', errorRate: 1 },
    });
    assert.equal(unknown.status, 404);
  });

  it('injected faults fail requests, count them as outcome=error, and are cleared', async () => {
    const put = await request<{ faults: unknown[] }>(`${url}/admin/faults`, {
      method: 'PUT',
      headers: ADMIN,
      body: { model: 'ctr', version: '2', errorRate: 1, extraLatencyMs: 20 },
    });
    assert.equal(put.status, 200);
    assert.equal(put.body.faults.length, 1);
    const started = Date.now();
    const failed = await predict();
    assert.equal(failed.status, 500);
    assert.equal(failed.body.code, 'injected_fault');
    assert.equal(failed.headers.get('x-model-version'), '2');
    assert.ok(Date.now() - started >= 20);
    const metrics = await request<string>(`${url}/metrics`);
    assert.match(
      metrics.body,
      /mlops_prediction_requests_total\{model="ctr",version="2",role="stable",outcome="error"\} 1\b/,
    );

    const cleared = await request<{ faults: unknown[] }>(`${url}/admin/faults`, {
      method: 'DELETE',
      headers: ADMIN,
    });
    assert.deepEqual(cleared.body.faults, []);
    assert.equal((await predict()).status, 200);
  });
});
