/**
 * The deployment state of one model: which version is stable, which is the canary and at what
 * weight. It lives in the store; every prediction server replica converges on it.
 */
import { joinUri, readJsonIfExists, writeJson } from './storage';

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
  updatedAt: string;
}

export function deploymentUri(storeUri: string, model: string): string {
  return joinUri(storeUri, 'deployments', `${model}.json`);
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
