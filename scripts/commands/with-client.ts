/** Runs a CLI action with a connected Temporal client, turning connection and lookup failures into plain messages. */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { connectClient, type ConnectedClient } from '../clients/temporal-client';
import { readWorkerEnv } from '../../workers/env';

export async function withClient<T>(
  action: (
    client: Client,
    namespace: string,
    env: Awaited<ReturnType<typeof connectClient>>['env'],
  ) => Promise<T>,
): Promise<T> {
  const env = readWorkerEnv();
  let connected: ConnectedClient;
  try {
    connected = await connectClient(env);
  } catch (err) {
    throw new Error(
      `cannot reach Temporal at ${env.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS): ${(err as Error).message}. ` +
        'Is the server running? Start the local stack with `mlops dev`, or point TEMPORAL_ADDRESS at your cluster.',
      { cause: err },
    );
  }
  try {
    return await action(connected.client, connected.env.TEMPORAL_NAMESPACE, connected.env);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new Error(`no such workflow: ${err.workflowId}`, { cause: err });
    throw err;
  } finally {
    await connected.close();
  }
}
