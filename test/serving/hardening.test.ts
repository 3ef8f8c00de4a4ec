/** What a server exposed to other machines must not allow: a public admin token, fault injection. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../serving/errors';
import { isLoopbackHost, parseServingEnv } from '../../serving/main';
import { ADMIN, createServingFixture, request, type ServingFixture } from './fixture';

describe('serving hardening', () => {
  let fixture: ServingFixture;
  before(async () => {
    fixture = await createServingFixture();
  });
  after(() => fixture.close());

  it('refuses to listen beyond loopback without its own admin token', () => {
    assert.throws(
      () => parseServingEnv({ HOST: '0.0.0.0' }),
      /MLOPS_ADMIN_TOKEN: must be set when HOST is not a loopback address/,
    );
    assert.throws(() => parseServingEnv({ HOST: '10.1.2.3' }), /MLOPS_ADMIN_TOKEN/);
    assert.equal(parseServingEnv({ HOST: '0.0.0.0', MLOPS_ADMIN_TOKEN: 'a-real-secret' }).HOST, '0.0.0.0');
    assert.equal(parseServingEnv({}).HOST, '127.0.0.1');
    // One replica of several (it has a replica id) needs the key the replicas share for prediction ids.
    const replica = { HOST: '0.0.0.0', MLOPS_ADMIN_TOKEN: 'a-real-secret', MLOPS_REPLICA_ID: 'serving-0' };
    assert.throws(
      () => parseServingEnv(replica),
      /MLOPS_FEEDBACK_KEY: must be set when this server is one replica of several \(MLOPS_REPLICA_ID\)/,
    );
    assert.equal(
      parseServingEnv({ ...replica, MLOPS_FEEDBACK_KEY: 'a-shared-feedback-key' }).MLOPS_REPLICA_ID,
      'serving-0',
    );
    assert.equal(parseServingEnv({ MLOPS_REPLICA_ID: 'local-0' }).MLOPS_REPLICA_ID, 'local-0');
    assert.deepEqual(
      ['127.0.0.1', '127.3.4.5', '::1', 'localhost', '0.0.0.0', '::', '192.168.1.9'].map(isLoopbackHost),
      [true, true, true, true, false, false, false],
    );
  });

  it('has no fault injection unless started with it', async () => {
    assert.equal(parseServingEnv({}).MLOPS_FAULT_INJECTION, false);
    assert.equal(parseServingEnv({ MLOPS_FAULT_INJECTION: 'true' }).MLOPS_FAULT_INJECTION, true);
    const { url } = await fixture.start({ faultInjection: false });
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const answer = await request<ErrorBody>(`${url}/admin/faults`, {
        method,
        headers: ADMIN,
        ...(method === 'PUT' ? { body: { model: 'ctr', version: '1', errorRate: 1 } } : {}),
      });
      assert.equal(answer.status, 404, method);
      assert.equal(answer.body.code, 'route_not_found', method);
    }
    const withFaults = await fixture.start({ faultInjection: true });
    assert.equal((await request(`${withFaults.url}/admin/faults`, { headers: ADMIN })).status, 200);
  });
});
