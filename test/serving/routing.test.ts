import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PredictResponse } from '../../serving/routes/predict';
import { chooseRoute, routingPoint } from '../../serving/router';
import { ADMIN, createServingFixture, request, validInstance, type ServingFixture } from './fixture';

describe('chooseRoute', () => {
  const table = { stable: { version: '1' }, canary: { version: '2', weight: 20 } };

  it('splits random traffic roughly by weight', () => {
    let state = 1;
    // A seeded generator keeps the test deterministic.
    const random = () => (state = (state * 48271) % 2147483647) / 2147483647;
    let canary = 0;
    for (let i = 0; i < 10_000; i++) if (chooseRoute(table, undefined, random)?.role === 'canary') canary++;
    assert.ok(canary > 1_700 && canary < 2_300, `canary got ${canary} of 10000`);
  });

  it('sends a routing key to the same version every time', () => {
    for (let user = 0; user < 50; user++) {
      const first = chooseRoute(table, `user-${user}`);
      for (let i = 0; i < 5; i++) assert.deepEqual(chooseRoute(table, `user-${user}`), first);
    }
  });

  it('only moves keyed users from stable to canary as the weight rises', () => {
    for (let user = 0; user < 200; user++) {
      const key = `user-${user}`;
      let wasCanary = false;
      for (const weight of [0, 5, 20, 50, 100]) {
        const role = chooseRoute({ ...table, canary: { version: '2', weight } }, key)?.role;
        if (wasCanary) assert.equal(role, 'canary', `${key} went back to stable at weight ${weight}`);
        wasCanary = role === 'canary';
      }
    }
    assert.ok(routingPoint('a') >= 0 && routingPoint('a') < 100);
  });

  it('handles tables with only one side', () => {
    assert.deepEqual(chooseRoute({ stable: { version: '1' } }), { version: '1', role: 'stable' });
    assert.deepEqual(chooseRoute({ canary: { version: '2', weight: 10 } }), { version: '2', role: 'canary' });
    assert.deepEqual(chooseRoute({ ...table, canary: { version: '2', weight: 0 } }), {
      version: '1',
      role: 'stable',
    });
    assert.equal(chooseRoute({}), undefined);
  });
});

describe('weighted routing over HTTP', () => {
  let fixture: ServingFixture;
  let predictUrl: string;

  before(async () => {
    fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    const v2 = await fixture.saveVersion('2');
    await fixture.deploy({
      revision: 1,
      stable: { version: '1', modelUri: v1 },
      canary: { version: '2', weight: 30, modelUri: v2 },
    });
    const { url } = await fixture.start();
    predictUrl = `${url}/v1/models/ctr:predict`;
  });
  after(() => fixture.close());

  it('splits requests roughly by weight and keeps a routing key on one version', async () => {
    const instance = await validInstance();
    const versions = await Promise.all(
      Array.from({ length: 300 }, async () => {
        const res = await request<PredictResponse>(predictUrl, { body: { instances: [instance] } });
        return res.body.model_version;
      }),
    );
    const canary = versions.filter((version) => version === '2').length;
    assert.ok(canary > 50 && canary < 130, `canary served ${canary} of 300`);

    for (const key of ['alice', 'bob', 'carol']) {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const viaHeader = await request<PredictResponse>(predictUrl, {
          body: { instances: [instance] },
          headers: { 'x-routing-key': key },
        });
        const viaBody = await request<PredictResponse>(predictUrl, {
          body: { instances: [instance], routing_key: key },
        });
        seen.add(viaHeader.body.model_version).add(viaBody.body.model_version);
      }
      assert.equal(seen.size, 1, `${key} saw versions ${[...seen].join(', ')}`);
    }

    const status = await request<{
      model_version_status: Array<{ version: string; role: string; weight: number }>;
    }>(predictUrl.replace(':predict', ''), { headers: ADMIN });
    assert.deepEqual(
      status.body.model_version_status.map(({ version, role, weight }) => ({ version, role, weight })),
      [
        { version: '1', role: 'stable', weight: 70 },
        { version: '2', role: 'canary', weight: 30 },
      ],
    );
  });
});
