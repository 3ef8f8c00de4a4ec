/** What the route plugins share: the deployment watcher, predictor, metrics, logs, fault injector and settings. */
import type { Predictor } from './batcher';
import type { DeploymentWatcher } from './deployment-watcher';
import type { ClusterLink } from './cluster';
import type { FaultInjector } from './faults';
import type { PredictionMetrics } from './metrics';
import type { PredictionIdCodec } from './prediction-id';
import type { ServingLogs } from './prediction-log';
import type { RecentIds } from './recent-ids';
import type { ShadowMirror } from './shadow-mirror';

/** The API's version, in its OpenAPI document and the Open Inference Protocol's `GET /v2`. */
export const API_VERSION = '0.1.0';

/** Model names the predict route can address (`/v1/models/{model}:predict`). */
export const MODEL_NAME_PATTERN = /^[\w.-]+$/;

/** How prediction ids are issued and feedback joined to them. */
export interface FeedbackSettings {
  ids: PredictionIdCodec;
  /** Feedback for a prediction older than this is reported as unknown. */
  maxAgeMs: number;
  /** Ids this replica has counted recently, so a retried feedback call is not counted twice. */
  seen: RecentIds;
}

/** Dependencies of the route plugins, built once per server. */
export interface ServingContext {
  /** The artifact store the server reads deployments and the registry from. */
  storeUri: string;
  watcher: DeploymentWatcher;
  predictor: Predictor;
  metrics: PredictionMetrics;
  /** The sibling server processes on this port, when there are several (see cluster.ts). */
  cluster?: ClusterLink;
  /** Fault injection for drills and tests; absent unless the server was started with it. */
  faults?: FaultInjector;
  feedback: FeedbackSettings;
  /** Scores copies of stable's requests with a shadow version, when a model has one. */
  shadow: ShadowMirror;
  /** Prediction and feedback logs in the store; undefined when logging is off. */
  logs?: ServingLogs;
  adminToken: string;
  /** Storage prefixes an instance's `image_uri` may point under; empty means image_uri is refused. */
  imageUriRoots: string[];
}
