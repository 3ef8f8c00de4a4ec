/**
 * Rollout activities: write the desired deployment to the store, make every replica serve it,
 * and read the replicas' traffic counters for canary analysis.
 */
import { Context, sleep } from '@temporalio/activity';
import {
  type DeployedVersion,
  type DeploymentState,
  readDeployment,
  writeDeployment,
} from '../../lib/registry/deployment';
import { ModelRegistry } from '../../lib/registry/index';
import type { ActivityDeps } from '../deps';
import { readPrometheusTraffic } from './prometheus-client';
import { readReplicaTraffic, reloadReplica, servedRevision, type TrafficSnapshot } from './serving-client';

export interface ApplyDeploymentInput {
  model: string;
  stable?: DeployedVersion;
  canary?: DeployedVersion & { weight: number };
  shadow?: DeployedVersion & { percent: number };
}

export interface ApplyDeploymentResult {
  revision: number;
  replicas: number;
}

const CONVERGE_POLL_MS = 200;

function sameDeployment(state: DeploymentState, input: ApplyDeploymentInput): boolean {
  return (
    JSON.stringify([state.stable, state.canary, state.shadow]) ===
    JSON.stringify([input.stable, input.canary, input.shadow])
  );
}

export interface AbandonRolloutInput {
  model: string;
  version: string;
  reason: string;
}

export function createRolloutActivities(deps: ActivityDeps) {
  const registry = new ModelRegistry(deps.storeUri);
  const activities = {
    /**
     * Makes `input` the model's deployment and returns once every replica serves it. Writing the
     * same deployment twice keeps its revision, so a retried attempt does not churn replicas.
     */
    async applyDeployment(input: ApplyDeploymentInput): Promise<ApplyDeploymentResult> {
      const current = await readDeployment(deps.storeUri, input.model);
      let revision = current?.revision ?? 0;
      if (!current || !sameDeployment(current, input)) {
        revision += 1;
        await writeDeployment(deps.storeUri, {
          model: input.model,
          revision,
          ...(input.stable ? { stable: input.stable } : {}),
          ...(input.canary ? { canary: input.canary } : {}),
          ...(input.shadow ? { shadow: input.shadow } : {}),
          updatedAt: new Date().toISOString(),
        });
      }
      const lagging = new Set(deps.servingUrls);
      await Promise.all(deps.servingUrls.map((url) => reloadReplica(url, deps.adminToken)));
      for (;;) {
        for (const url of [...lagging]) {
          const served = await servedRevision(url, input.model).catch(() => 0);
          if (served >= revision) lagging.delete(url);
        }
        if (lagging.size === 0) return { revision, replicas: deps.servingUrls.length };
        Context.current().heartbeat({ revision, waitingFor: [...lagging] });
        await sleep(CONVERGE_POLL_MS);
      }
    },

    /**
     * Cleans up after a rollout that ended without compensating (terminated, timed out): traffic
     * goes back to stable only if `version` is still the canary, so a deployment that has since
     * taken the model's lock is never overwritten; a version left `canary` becomes `rolled-back`.
     */
    async abandonRollout({
      model,
      version,
      reason,
    }: AbandonRolloutInput): Promise<{ trafficRestored: boolean }> {
      const current = await readDeployment(deps.storeUri, model);
      const trafficRestored = current?.canary?.version === version && current.stable !== undefined;
      if (trafficRestored) await activities.applyDeployment({ model, stable: current.stable });
      const record = await registry.getVersion(model, version);
      if (record?.status === 'canary')
        await registry.setStatus(model, version, 'rolled-back', { note: reason });
      return { trafficRestored };
    },

    /** Cumulative counters per version of a model, summed over every replica (or by Prometheus). */
    async snapshotTraffic({ model }: { model: string }): Promise<TrafficSnapshot> {
      if (deps.prometheusUrl) return readPrometheusTraffic(deps.prometheusUrl, model);
      const perReplica = await Promise.all(deps.servingUrls.map((url) => readReplicaTraffic(url, model)));
      return Object.assign({}, ...perReplica) as TrafficSnapshot;
    },
  };
  return activities;
}
