/**
 * Activities grouped by the worker that hosts them. Workflows import this module as types only.
 */
import type { ActivityDeps } from './deps';
import { createEvaluateActivities } from './evaluate/evaluate';
import { createIngestActivities } from './ingest/ingest';
import { createMonitorActivities } from './monitor/monitor';
import { createPredictControlActivities, createPredictGpuActivities } from './predict/predict';
import { createRegistryActivities } from './register/register';
import { createRolloutActivities } from './rollout/rollout';
import { createSchemaActivities } from './validate/schema-activities';
import { createTrainActivities } from './train/train';
import { createValidateActivities } from './validate/validate';

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
