/** What the route plugins share: the deployment watcher, metrics, fault injector and admin settings. */
import type { DeploymentWatcher } from './deployment-watcher';
import type { FaultInjector } from './faults';
import type { PredictionMetrics } from './metrics';

/** Model names the predict route can address (`/v1/models/{model}:predict`). */
export const MODEL_NAME_PATTERN = /^[\w.-]+$/;

/** Dependencies of the route plugins, built once per server. */
export interface ServingContext {
  watcher: DeploymentWatcher;
  metrics: PredictionMetrics;
  faults: FaultInjector;
  adminToken: string;
  /** Storage prefixes an instance's `image_uri` may point under; empty means image_uri is refused. */
  imageUriRoots: string[];
}
