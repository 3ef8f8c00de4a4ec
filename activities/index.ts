/**
 * Activities grouped by the worker that hosts them. Workflows import this module as types only.
 */
import type { ActivityDeps } from './deps';
import { createEvaluateActivities } from './evaluate';
import { createIngestActivities } from './ingest';
import { createMonitorActivities } from './monitor';
import { createPredictControlActivities, createPredictGpuActivities } from './predict';
import { createRegistryActivities } from './registry';
import { createRolloutActivities } from './rollout';
import { createSchemaActivities } from './schema';
import { createTrainActivities } from './train';
import { createValidateActivities } from './validate';

export type { ActivityDeps } from './deps';

/** Light activities for the `ml-control` queue: I/O, registry, deployment. */
export function createControlActivities(deps: ActivityDeps) {
  return {
    ...createIngestActivities(deps),
    ...createValidateActivities(deps),
    ...createSchemaActivities(deps),
    ...createRegistryActivities(deps),
    ...createRolloutActivities(deps),
    ...createPredictControlActivities(deps),
    ...createMonitorActivities(deps),
  };
}

/** Heavy activities for the `ml-gpu` queue: training, evaluation and batch scoring. */
export function createGpuActivities(deps: Pick<ActivityDeps, 'storeUri'>) {
  const full: ActivityDeps = { servingUrls: [], adminToken: '', ...deps };
  return {
    ...createTrainActivities(full),
    ...createEvaluateActivities(full),
    ...createPredictGpuActivities(),
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
export type GpuActivities = ReturnType<typeof createGpuActivities>;
