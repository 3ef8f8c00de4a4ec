/**
 * The deployment state of one model: which version is stable, which is the canary and at what
 * weight. It lives in the store; every prediction server replica converges on it.
 */
import { joinUri, readJsonIfExists, writeJson } from '../storage/index';

export interface DeployedVersion {
  version: string;
  modelUri: string;
}

export interface DeploymentState {
  model: string;
  /** Increases with every change, so replicas can report which state they serve. */
  revision: number;
  stable?: DeployedVersion;
  canary?: DeployedVersion & { weight: number };
  /**
   * A candidate in shadow: it serves no one, but `percent` of the requests stable answers are
   * copied to it off the request path, and its scores are compared with stable's on the same requests.
   */
  shadow?: DeployedVersion & { percent: number };
  updatedAt: string;
}

/** The folder of every model's deployment file. */
export function deploymentsRoot(storeUri: string): string {
  return joinUri(storeUri, 'deployments');
}

export function deploymentUri(storeUri: string, model: string): string {
  return joinUri(deploymentsRoot(storeUri), `${model}.json`);
}

export async function readDeployment(storeUri: string, model: string): Promise<DeploymentState | undefined> {
  return readJsonIfExists<DeploymentState>(deploymentUri(storeUri, model));
}

export async function writeDeployment(storeUri: string, state: DeploymentState): Promise<void> {
  await writeJson(deploymentUri(storeUri, state.model), state);
}

/** Prometheus metric names shared by the prediction server (writer) and canary analysis (reader). */
export const PREDICTION_REQUESTS_METRIC = 'mlops_prediction_requests_total';
export const PREDICTION_LATENCY_METRIC = 'mlops_prediction_latency_seconds';
/** Histogram of predicted click probabilities per version, for the score-distribution shift check. */
export const PREDICTION_SCORE_METRIC = 'mlops_prediction_score';
/** Buckets of the score histogram: 20 equal bins over [0, 1]. */
export const SCORE_BUCKETS = Array.from({ length: 19 }, (_, i) => Number(((i + 1) * 0.05).toFixed(2)));
/** Feedback labels joined to a prediction, per version; with the log-loss sum gives online log loss. */
export const FEEDBACK_TOTAL_METRIC = 'mlops_feedback_total';
/** Sum over joined feedback of the prediction's log loss against the observed click. */
export const FEEDBACK_LOG_LOSS_SUM_METRIC = 'mlops_feedback_log_loss_sum';
/**
 * Sum over joined feedback of the squared log loss; with the sum and the count it gives the
 * variance of a window's log loss, so canary analysis can tell a real regression from noise.
 */
export const FEEDBACK_LOG_LOSS_SQUARED_SUM_METRIC = 'mlops_feedback_log_loss_squared_sum';

/**
 * Shadow comparison counters, per model and shadow version (`stable_version` names the version it
 * was compared with): mirrored requests by outcome, and those dropped because the mirror queue was full.
 */
export const SHADOW_REQUESTS_METRIC = 'mlops_shadow_requests_total';
export const SHADOW_DROPPED_METRIC = 'mlops_shadow_dropped_total';
/** Model time of a mirrored request, on each side (`side` stable or shadow), so their latency compares like for like. */
export const SHADOW_LATENCY_METRIC = 'mlops_shadow_model_latency_seconds';
/** Paired score differences (shadow − stable) on the same instances: count, sum and sum of squares. */
export const SHADOW_PAIRS_METRIC = 'mlops_shadow_score_pairs_total';
export const SHADOW_SCORE_DIFF_SUM_METRIC = 'mlops_shadow_score_diff_sum';
export const SHADOW_SCORE_DIFF_SQUARED_SUM_METRIC = 'mlops_shadow_score_diff_squared_sum';
/** Feedback joined to both sides of a mirrored request: count, and the paired log-loss difference's sums. */
export const SHADOW_FEEDBACK_METRIC = 'mlops_shadow_feedback_total';
export const SHADOW_LOG_LOSS_DIFF_SUM_METRIC = 'mlops_shadow_log_loss_diff_sum';
export const SHADOW_LOG_LOSS_DIFF_SQUARED_SUM_METRIC = 'mlops_shadow_log_loss_diff_squared_sum';
