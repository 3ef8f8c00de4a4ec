/**
 * A candidate identical to production (its saved model registered again as a new, approved
 * version) and its canaryRollout started directly: what the shadow test and the false-alarm bench
 * roll out, so any rollback is the judge's false alarm.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { PipelineConfig } from '../../contracts/pipeline-config';
import { CANARY_WORKFLOW_TYPE, deploymentWorkflowId, type RolloutInput } from '../../contracts/temporal';
import { ModelRegistry } from '../../lib/registry';
import { TEST_CONTROL_QUEUE, TEST_MODEL } from './pipeline-env';

export interface CandidateRef {
  version: string;
  modelUri: string;
}

/** Registers the production version's saved model as a new approved version, identical in every weight. */
export async function registerIdenticalCandidate(storeUri: string, by: string): Promise<CandidateRef> {
  const registry = new ModelRegistry(storeUri);
  const production = await registry.getProduction(TEST_MODEL);
  if (!production) throw new Error('no production version to copy');
  const record = await registry.register({
    model: TEST_MODEL,
    modelUri: production.modelUri,
    metrics: production.metrics,
    lineage: { ...production.lineage, run: { workflowId: by, runId: randomUUID(), workflowType: by } },
    code: production.lineage.code,
  });
  await registry.setStatus(TEST_MODEL, record.version, 'approved', { by });
  return { version: record.version, modelUri: record.modelUri };
}

/** Starts the candidate's canaryRollout under the model's deployment workflow id, as a pipeline would. */
export function startCanaryRollout(
  client: Client,
  candidate: CandidateRef,
  rollout: PipelineConfig['rollout'],
): Promise<WorkflowHandle> {
  const input: RolloutInput = {
    modelName: TEST_MODEL,
    candidateVersion: candidate.version,
    candidateModelUri: candidate.modelUri,
    rollout,
  };
  return client.workflow.start(CANARY_WORKFLOW_TYPE, {
    taskQueue: TEST_CONTROL_QUEUE,
    workflowId: deploymentWorkflowId(TEST_MODEL),
    args: [input],
  });
}
