/** What activities need from their environment, injected by the worker that hosts them. */
import { Context } from '@temporalio/activity';
import { joinUri } from '../lib/storage';

export interface ActivityDeps {
  /** Root URI of the artifact store (a local folder, later gs://). */
  storeUri: string;
  /** Base URLs of every prediction server replica a rollout must reach. */
  servingUrls: string[];
  /** Bearer token for the prediction servers' admin routes. */
  adminToken: string;
  /** When set, canary analysis reads metrics from this Prometheus server instead of each replica. */
  prometheusUrl?: string;
}

/**
 * The deterministic folder of one stage's outputs for the calling workflow run, so a retried
 * activity finds what an earlier attempt already wrote.
 */
export function stageUri(storeUri: string, stage: string): string {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error(`the ${stage} activity must run inside a workflow`);
  const { workflowId, runId } = execution;
  return joinUri(storeUri, 'runs', workflowId, runId, stage);
}
