/** applyDeployment against real prediction server replicas sharing one store. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CancelledFailure } from '@temporalio/common';
import {
  createRolloutActivities,
  type ApplyDeploymentInput,
  type ApplyDeploymentResult,
} from '../../../activities/rollout/rollout';
import { readDeployment } from '../../../lib/registry/deployment';
import { getFreePort } from '../../../lib/temporal-server/index';
import { ADMIN_TOKEN, createServingFixture, request } from '../../serving/fixture';

const activityEnv = () =>
  new MockActivityEnvironment({ workflowExecution: { workflowId: 'wf', runId: 'run' } });

/** Runs applyDeployment for the given replicas inside a mock activity context. */
function deployer(storeUri: string, servingUrls: string[]) {
  const activities = createRolloutActivities({ storeUri, servingUrls, adminToken: ADMIN_TOKEN });
  return (input: ApplyDeploymentInput, env = activityEnv()): Promise<ApplyDeploymentResult> =>
    env.run((i: ApplyDeploymentInput) => activities.applyDeployment(i), input);
}

interface ModelStatus {
  model_version_status: Array<{ version: string; role: string; weight: number }>;
  deployment_revision: number;
}

describe('applyDeployment', () => {
  it('returns only once every replica serves the new state, and both then route alike', async () => {
    await using fixture = await createServingFixture();
    const [v1, v2] = [await fixture.saveVersion('1'), await fixture.saveVersion('2')];
    // Replicas poll rarely here: convergence must come from the activity's reload, not luck.
    const replicas = [
      await fixture.start({ pollIntervalMs: 600_000 }),
      await fixture.start({ pollIntervalMs: 600_000 }),
    ];
    const applyDeployment = deployer(
      fixture.storeUri,
      replicas.map((r) => r.url),
    );

    const first = await applyDeployment({ model: 'ctr', stable: { version: '1', modelUri: v1 } });
    const second = await applyDeployment({
      model: 'ctr',
      stable: { version: '1', modelUri: v1 },
      canary: { version: '2', modelUri: v2, weight: 30 },
    });
    assert.equal(second.revision, first.revision + 1);
    for (const replica of replicas) {
      const status = (await request<ModelStatus>(`${replica.url}/v1/models/ctr`)).body;
      assert.equal(status.deployment_revision, second.revision);
      assert.deepEqual(
        status.model_version_status.map((s) => [s.version, s.role, s.weight]),
        [
          ['1', 'stable', 70],
          ['2', 'canary', 30],
        ],
      );
    }
    const again = await applyDeployment({
      model: 'ctr',
      stable: { version: '1', modelUri: v1 },
      canary: { version: '2', modelUri: v2, weight: 30 },
    });
    assert.equal(again.revision, second.revision, 'a retried step does not bump the revision');
  });

  it('keeps waiting, heartbeating, while a configured replica has not converged', async () => {
    await using fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    const healthy = await fixture.start();
    const unreachable = `http://127.0.0.1:${await getFreePort()}`;
    const applyDeployment = deployer(fixture.storeUri, [healthy.url, unreachable]);
    const env = activityEnv();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));
    const running = applyDeployment({ model: 'ctr', stable: { version: '1', modelUri: v1 } }, env);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    env.cancel();
    await assert.rejects(running, (err: unknown) => err instanceof CancelledFailure);
    assert.ok(heartbeats.length > 0);
    assert.deepEqual((heartbeats.at(-1) as { waitingFor: string[] }).waitingFor, [unreachable]);
    assert.equal(
      (await readDeployment(fixture.storeUri, 'ctr'))?.stable?.version,
      '1',
      'the state is written for replicas that come back',
    );
  });

  it("fails with the replica's reason when it cannot load the new version, instead of waiting out a timeout", async () => {
    await using fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    const replica = await fixture.start();
    const applyDeployment = deployer(fixture.storeUri, [replica.url]);
    await applyDeployment({ model: 'ctr', stable: { version: '1', modelUri: v1 } });
    await assert.rejects(
      applyDeployment({
        model: 'ctr',
        stable: { version: '1', modelUri: v1 },
        canary: { version: '2', modelUri: `${fixture.storeUri}/models/ctr/missing`, weight: 10 },
      }),
      /cannot serve the new deployment: reload_failed .*missing/,
    );
  });
});
