/** Starting a `batchPredict` workflow from scripts and tests. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { ML_MODEL, ML_STAGE } from '../workflows/definitions';
import type { BatchPredictInput } from '../workflows/batch-predict';

/** The workflow type of batch prediction (workflows/batch-predict.ts). */
export const BATCH_PREDICT_WORKFLOW_TYPE = 'batchPredict';

export interface StartBatchPredictOptions extends BatchPredictInput {
  /** The control queue, where the workflow and its light activities run. */
  taskQueue: string;
  /** By default `batch-predict-<model>-<timestamp>`; reusing an id reuses its shard outputs. */
  workflowId?: string;
}

/** Starts a `batchPredict` workflow; returns its handle. */
export async function startBatchPredict(
  client: Client,
  options: StartBatchPredictOptions,
): Promise<WorkflowHandle> {
  const { taskQueue, workflowId, ...input } = options;
  if (input.version !== 'production' && !/^v?\d+$/i.test(input.version)) {
    throw new Error(`version must be a number like 3 or "production", got "${input.version}"`);
  }
  return client.workflow.start(BATCH_PREDICT_WORKFLOW_TYPE, {
    taskQueue,
    workflowId:
      workflowId ?? `batch-predict-${input.modelName}-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    args: [input],
    typedSearchAttributes: [
      { key: ML_MODEL, value: input.modelName },
      { key: ML_STAGE, value: 'batch-predict' },
    ],
    staticSummary: `Score every row of ${input.dataUri} with ${input.modelName} ${input.version === 'production' ? 'production' : `v${input.version}`}`,
  });
}
