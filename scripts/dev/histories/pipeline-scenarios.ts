/** Recording scenarios of pipelines, canaries and rollbacks: each drives real workflows to one ending. */
import {
  decidePipeline,
  queryPipelineStatus,
  startRollback,
  waitForStage,
} from '../../clients/pipeline-client';
import {
  approveSignal,
  deploymentWorkflowId,
  promoteRolloutSignal,
  rejectSignal,
  rolloutStatusQuery,
  type RollbackResult,
} from '../../../contracts/temporal';
import { TEST_ADMIN_TOKEN, TEST_CONTROL_QUEUE, TEST_MODEL } from '../../../test/helpers/pipeline-env';
import {
  CONFIG,
  NO_APPROVAL,
  STAGE_TIMEOUT,
  until,
  result,
  expectOutcome,
  expectFailure,
  type Scenario,
} from './scenario-kit';

/**
 * Pipeline scenarios in the order they run; the versions the earlier ones put in production serve the
 * later ones (a scenario run alone gets what it needs from unsaved setup pipelines).
 */
export const PIPELINE_SCENARIOS: Scenario[] = [
  {
    name: 'first-version',
    needs: 'nothing',
    async run({ env, start }) {
      const handle = await start();
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      await handle.signal(approveSignal, { by: 'recorder' });
      expectOutcome(await result(handle), 'production');
      return handle;
    },
  },
  {
    name: 'approved-to-production',
    needs: 'production',
    async run({ env, start, withTraffic }) {
      const handle = await start();
      const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      await withTraffic(async () => {
        // Decided through the `decide` Update, as `mlops pipeline approve` does.
        await decidePipeline(env.client, handle.workflowId, {
          decision: 'approve',
          by: 'recorder',
          comment: 'canary under light traffic',
          version: waiting.candidateVersion,
        });
        expectOutcome(await result(handle), 'production');
      });
      return handle;
    },
  },
  {
    name: 'rejected',
    needs: 'nothing',
    async run({ env, start }) {
      const handle = await start();
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      // Decided through the `reject` signal, as the Web UI's "Send a Signal" does.
      await handle.signal(rejectSignal, { by: 'recorder', reason: 'not convinced' });
      expectOutcome(await result(handle), 'rejected');
      return handle;
    },
  },
  {
    name: 'approval-timed-out',
    needs: 'nothing',
    async run({ start }) {
      // 0.0005 h = 1.8 s: nobody decides, the approval timer fires.
      const handle = await start({ ...CONFIG, approval: { timeoutHours: 0.0005 } });
      expectOutcome(await result(handle), 'rejected');
      return handle;
    },
  },
  {
    name: 'not-blessed',
    needs: 'nothing',
    async run({ start }) {
      // No model reaches AUC 1 on noisy clicks: evaluation fails the pipeline before registering.
      const handle = await start({
        ...CONFIG,
        evaluate: {
          minAuc: 1,
          maxAucDropVsProduction: 1,
          maxLogLossIncreaseVsProduction: 100,
          maxEceIncreaseVsProduction: 1,
        },
      });
      expectFailure(await result(handle), /not blessed/);
      return handle;
    },
  },
  {
    name: 'rolled-back',
    needs: 'production',
    async run({ env, start, withTraffic }) {
      const handle = await start();
      const waiting = await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      // Every request to the candidate fails: the canary's error-rate check rolls it back.
      const fault = await fetch(`${env.servingUrl}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        body: JSON.stringify({ model: TEST_MODEL, version: waiting.candidateVersion, errorRate: 1 }),
      });
      if (!fault.ok) throw new Error(`could not inject the fault: ${fault.status} ${await fault.text()}`);
      await withTraffic(async () => {
        await handle.signal(approveSignal, { by: 'recorder' });
        expectFailure(await result(handle), /rolled back/);
      });
      return handle;
    },
  },
  {
    name: 'superseded',
    needs: 'nothing',
    async run({ env, start }) {
      // The recorded one: its candidate waits, then a newer candidate of the same model replaces it.
      const older = await start();
      await waitForStage(env.client, older.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      const newer = await start(CONFIG, 'newer');
      await waitForStage(env.client, newer.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      expectOutcome(await result(older), 'superseded');
      await decidePipeline(env.client, newer.workflowId, {
        decision: 'reject',
        by: 'recorder',
        reason: 'only recording',
      });
      expectOutcome(await result(newer), 'rejected');
      return older;
    },
  },
  {
    name: 'full-traffic-gate',
    needs: 'production',
    async run({ env, start, withTraffic }) {
      const handle = await start({ ...CONFIG, approval: { beforeFullTraffic: true } });
      await waitForStage(env.client, handle.workflowId, ['awaiting-approval'], STAGE_TIMEOUT);
      await withTraffic(async () => {
        await decidePipeline(env.client, handle.workflowId, { decision: 'approve', by: 'recorder' });
        // The canary holds at 50% and tells the pipeline; the second approval reaches it through
        // the pipeline, here as the `approve` signal (the first went through the Update).
        await until(async () => {
          const status = await queryPipelineStatus(env.client, handle.workflowId);
          return status.pending?.gate === 'full-traffic' ? status : undefined;
        }, 'the full-traffic gate');
        await handle.signal(approveSignal, { by: 'recorder', comment: '100% please' });
        expectOutcome(await result(handle), 'production');
      });
      return handle;
    },
  },
  {
    name: 'waiting-to-deploy',
    needs: 'production',
    async run({ env, start, withTraffic }) {
      return withTraffic(async () => {
        // A first pipeline holds the model's deployment lock with a long bake...
        const first = await start(
          {
            ...NO_APPROVAL,
            rollout: {
              ...CONFIG.rollout,
              steps: [{ weight: 10, bakeSeconds: 600, minRequests: 1 }, { weight: 100 }],
              maxWaitSeconds: 900,
            },
          },
          'first',
        );
        const rollout = env.client.workflow.getHandle(deploymentWorkflowId(TEST_MODEL));
        await until(async () => {
          const status = await queryPipelineStatus(env.client, first.workflowId);
          return status.stage === 'canary' && status.rollout?.phase === 'baking' ? true : undefined;
        }, 'the first canary to bake');
        // ...so the recorded one waits for it, then deploys once it is promoted by hand.
        const second = await start(NO_APPROVAL);
        await waitForStage(env.client, second.workflowId, ['waiting-to-deploy'], STAGE_TIMEOUT);
        if ((await rollout.query(rolloutStatusQuery)).weight !== 10)
          throw new Error('the first canary should still be at 10%');
        await rollout.signal(promoteRolloutSignal, { by: 'recorder', reason: 'make way' });
        expectOutcome(await result(first), 'production');
        expectOutcome(await result(second), 'production');
        return second;
      });
    },
  },
  {
    name: 'manual-rollback',
    needs: 'previous',
    async run({ env }) {
      // `mlops rollback --model ctr`: the previous production version comes back.
      const handle = await startRollback(env.client, {
        modelName: TEST_MODEL,
        by: 'recorder',
        reason: 'drill',
        taskQueue: TEST_CONTROL_QUEUE,
      });
      const done = (await handle.result()) as RollbackResult;
      if (!done.from || done.to === done.from)
        throw new Error(`expected a rollback from one version to another, got ${JSON.stringify(done)}`);
      return handle;
    },
  },
];
