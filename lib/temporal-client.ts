/** Connects a Temporal client from the validated environment. */
import { Client, Connection } from '@temporalio/client';
import { readWorkerEnv, temporalConnectionOptions, type WorkerEnv } from './worker-env';

export interface ConnectedClient {
  client: Client;
  env: WorkerEnv;
  close(): Promise<void>;
}

export async function connectClient(env: WorkerEnv = readWorkerEnv()): Promise<ConnectedClient> {
  const connection = await Connection.connect(temporalConnectionOptions(env));
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  return { client, env, close: () => connection.close() };
}

/** The Web UI page of a workflow; MLOPS_UI_URL points elsewhere than the dev server's UI. */
export function workflowUiUrl(
  namespace: string,
  workflowId: string,
  uiBase = process.env.MLOPS_UI_URL ?? 'http://localhost:8233',
): string {
  return `${uiBase}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
