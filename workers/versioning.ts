/**
 * Worker Deployment Versioning, opt-in: which release a worker belongs to, and the worker options
 * that make Temporal route each workflow to the release it started on.
 */
import type { VersioningBehavior } from '@temporalio/common';
import type { WorkerOptions } from '@temporalio/worker';

/** One release of the workers: a Worker Deployment name (e.g. `mlops`) and a build id (git sha, image tag). */
export interface WorkerDeployment {
  deploymentName: string;
  buildId: string;
}

/**
 * Workflow types that declare no behaviour of their own stay on the build they started on: a
 * pipeline waiting days for approval, and its canary, finish on the code that wrote their history.
 */
export const DEFAULT_VERSIONING_BEHAVIOR: VersioningBehavior = 'PINNED';

/** The deployment the environment names, or undefined (unversioned) when it names none. */
export function workerDeploymentFromEnv(env: {
  MLOPS_WORKER_DEPLOYMENT_NAME?: string | undefined;
  MLOPS_WORKER_BUILD_ID?: string | undefined;
}): WorkerDeployment | undefined {
  const deploymentName = env.MLOPS_WORKER_DEPLOYMENT_NAME;
  const buildId = env.MLOPS_WORKER_BUILD_ID;
  // readWorkerEnv already refused one without the other.
  return deploymentName && buildId ? { deploymentName, buildId } : undefined;
}

/** The `Worker.create` options for `deployment`; none for an unversioned worker. */
export function workerVersioningOptions(
  deployment: WorkerDeployment | undefined,
): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  if (!deployment) return {};
  return {
    workerDeploymentOptions: {
      useWorkerVersioning: true,
      version: { deploymentName: deployment.deploymentName, buildId: deployment.buildId },
      defaultVersioningBehavior: DEFAULT_VERSIONING_BEHAVIOR,
    },
  };
}
