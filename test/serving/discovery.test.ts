/**
 * Every model in the store is served without being listed in advance: a model is found when its
 * first deployment appears (on a poll or a reload), and MLOPS_MODELS-style narrowing still holds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN, createServingFixture, request, validInstance, type ServingFixture } from './fixture';
import { parseServingEnv } from '../../serving/main';

void describe('serving discovers models', () => {
  let fixture: ServingFixture;
  before(async () => {
    fixture = await createServingFixture();
  });
  after(() => fixture.close());

  void it('serves a model first deployed after the server started, without being told its name', async () => {
    const { url } = await fixture.start({ models: undefined });
    assert.deepEqual((await request(`${url}/readyz`)).body, { status: 'ready', revisions: {} });
    const before = await request<{ error: string; code: string }>(`${url}/v1/models/churn:predict`, {
      body: { instances: [await validInstance()] },
    });
    assert.equal(before.status, 404);
    assert.equal(before.body.code, 'model_not_found');

    const modelUri = await fixture.saveVersion('1');
    await fixture.deploy({ model: 'churn', revision: 1, stable: { version: '1', modelUri } });
    await fixture.deploy({ model: 'ctr', revision: 4, stable: { version: '1', modelUri } });
    const reload = await request<{ revisions: Record<string, number> }>(`${url}/admin/reload`, {
      method: 'POST',
      headers: ADMIN,
    });
    assert.deepEqual(reload.body.revisions, { churn: 1, ctr: 4 });
    const predicted = await request<{ model_version: string; predictions: unknown[] }>(
      `${url}/v1/models/churn:predict`,
      { body: { instances: [await validInstance()] } },
    );
    assert.equal(predicted.status, 200, JSON.stringify(predicted.body));
    assert.equal(predicted.body.model_version, '1');
    assert.deepEqual((await request(`${url}/readyz`)).body, {
      status: 'ready',
      revisions: { churn: 1, ctr: 4 },
    });
    const status = await request<{ model_version_status: Array<{ version: string }> }>(
      `${url}/v1/models/churn`,
    );
    assert.deepEqual(
      status.body.model_version_status.map((entry) => entry.version),
      ['1'],
    );
  });

  void it('serves only the models it is given when given some', async () => {
    const { url } = await fixture.start({ models: ['ctr'] });
    const answer = await request<{ error: string; code: string }>(`${url}/v1/models/churn:predict`, {
      body: { instances: [await validInstance()] },
    });
    assert.equal(answer.status, 404);
    assert.equal('churn' in (await request<{ revisions: object }>(`${url}/readyz`)).body.revisions, false);
  });

  void it('reads MLOPS_MODELS as an optional narrowing', () => {
    assert.equal(parseServingEnv({}).MLOPS_MODELS, undefined);
    assert.deepEqual(parseServingEnv({ MLOPS_MODELS: 'ctr, churn' }).MLOPS_MODELS, ['ctr', 'churn']);
    assert.throws(() => parseServingEnv({ MLOPS_MODELS: 'ctr,../x' }), /MLOPS_MODELS entries/);
  });
});
