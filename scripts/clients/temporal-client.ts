/** Connects a Temporal client from the validated environment. */
import { Client, Connection } from '@temporalio/client';
import { DEFAULT_SERVICE_NAMES, startTracingFromEnv } from '../../workers/tracing';
import { readWorkerEnv, temporalConnectionOptions, type WorkerEnv } from '../../workers/env';

export interface ConnectedClient {
  client: Client;
  env: WorkerEnv;
  close(): Promise<void>;
}

/**
 * A client for the environment's Temporal. With tracing on (lib/tracing.ts) its workflow starts,
 * signals and queries become spans that parent the workflow's own; close() flushes them.
 */
export async function connectClient(env: WorkerEnv = readWorkerEnv()): Promise<ConnectedClient> {
  const connection = await Connection.connect(temporalConnectionOptions(env));
  // A collector that is down costs a warning on stderr, never the command.
  const tracing = startTracingFromEnv(env, DEFAULT_SERVICE_NAMES.cli, {
    warn: (message) => console.error(`tracing: ${message}`),
  });
  const client = new Client({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    ...(tracing ? { interceptors: tracing.clientInterceptors() } : {}),
  });
  const close = async () => {
    try {
      await connection.close();
    } finally {
      await tracing?.shutdown();
    }
  };
  return { client, env, close };
}

/** The Web UI page of a workflow; MLOPS_UI_URL points elsewhere than the dev server's UI. */
export function workflowUiUrl(
  namespace: string,
  workflowId: string,
  uiBase = process.env.MLOPS_UI_URL ?? 'http://localhost:8233',
): string {
  return `${uiBase}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
