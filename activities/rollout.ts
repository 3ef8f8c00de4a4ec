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
} from '../lib/deployment';
import type { ActivityDeps } from './deps';
import { readPrometheusTraffic } from './prometheus-client';
import { readReplicaTraffic, reloadReplica, servedRevision, type TrafficSnapshot } from './serving-client';

export interface ApplyDeploymentInput {
  model: string;
  stable?: DeployedVersion;
  canary?: DeployedVersion & { weight: number };
}

export interface ApplyDeploymentResult {
  revision: number;
  replicas: number;
}

const CONVERGE_POLL_MS = 200;

function sameDeployment(state: DeploymentState, input: ApplyDeploymentInput): boolean {
  return JSON.stringify([state.stable, state.canary]) === JSON.stringify([input.stable, input.canary]);
}

export function createRolloutActivities(deps: ActivityDeps) {
  return {
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

    /** Cumulative counters per version of a model, summed over every replica (or by Prometheus). */
    async snapshotTraffic({ model }: { model: string }): Promise<TrafficSnapshot> {
      if (deps.prometheusUrl) return readPrometheusTraffic(deps.prometheusUrl, model);
      const perReplica = await Promise.all(deps.servingUrls.map((url) => readReplicaTraffic(url, model)));
      return Object.assign({}, ...perReplica) as TrafficSnapshot;
    },
  };
}
