/** Starting, checking and following a `batchPredict` workflow from scripts and tests. */
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ML_MODEL, ML_STAGE } from '../../contracts/temporal';
import {
  batchPredictStatusQuery,
  type BatchPredictInput,
  type BatchPredictStatus,
} from '../../contracts/batch-predict';
import { listDataCsvs } from '../../lib/dataset/csv-files';
import { ModelRegistry, normalizeVersion } from '../../lib/registry/index';
import { queryWithin, STATUS_QUERY_TIMEOUT_MS } from './pipeline-client';
import { schemeOf, toLocalPath } from '../../lib/storage/index';

/** The workflow type of batch prediction (workflows/batch-predict.ts). */
export const BATCH_PREDICT_WORKFLOW_TYPE = 'batchPredict';

export interface StartBatchPredictOptions extends BatchPredictInput {
  /** The control queue, where the workflow and its light activities run. */
  taskQueue: string;
  /** By default `batch-predict-<model>-<timestamp>`; reusing an id reuses its shard outputs. */
  workflowId?: string;
}

/** A local path as an absolute one (workers may run elsewhere in the file system); other URIs as given. */
export function absoluteUri(uri: string): string {
  return schemeOf(uri) === 'file' ? path.resolve(toLocalPath(uri)) : uri;
}

/**
 * Checks, before anything starts, what the workflow would otherwise fail on: the version's form,
 * that the registry in `storeUri` holds it, and that the dataset has a CSV to score. Throws an
 * Error with a message a person can act on.
 */
export async function checkBatchPredictInput(
  storeUri: string,
  input: Pick<BatchPredictInput, 'modelName' | 'version' | 'dataUri'>,
): Promise<void> {
  const wanted = input.version === 'production' ? 'production' : normalizeVersion(input.version);
  if (!wanted) throw new Error(`--version must be a number like 3 or production, got "${input.version}"`);
  const registry = new ModelRegistry(storeUri);
  const record =
    wanted === 'production'
      ? await registry.getProduction(input.modelName)
      : await registry.getVersion(input.modelName, wanted);
  if (!record) {
    const known = await registry.listVersions(input.modelName);
    const where = `the registry at ${storeUri} (MLOPS_STORE or --store)`;
    if (known.length === 0) throw new Error(`no model named ${input.modelName} in ${where}`);
    throw new Error(
      wanted === 'production'
        ? `${input.modelName} has no production version in ${where}; name one with --version (see mlops models list --model ${input.modelName})`
        : `${input.modelName} has no version ${wanted} in ${where}; it has ${known.map((v) => `v${v.version}`).join(', ')}`,
    );
  }
  const { files } = await listDataCsvs(input.dataUri);
  if (files.length === 0) {
    throw new Error(
      `no dataset at ${input.dataUri}: --data must name a CSV or a folder with one (ads.csv + images), local or gs://`,
    );
  }
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
  const id =
    workflowId ?? `batch-predict-${input.modelName}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    return await client.workflow.start(BATCH_PREDICT_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: id,
      args: [input],
      typedSearchAttributes: [
        { key: ML_MODEL, value: input.modelName },
        { key: ML_STAGE, value: 'batch-predict' },
      ],
      staticSummary: `Score every row of ${input.dataUri} with ${input.modelName} ${input.version === 'production' ? 'production' : `v${input.version}`}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new Error(
        `batch prediction ${id} is already running; follow it with mlops batch-predict status ${id}`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}

/** A running or finished batch prediction's progress (its `status` query). */
export async function queryBatchPredictStatus(
  client: Client,
  workflowId: string,
): Promise<BatchPredictStatus> {
  return queryWithin(client, workflowId, STATUS_QUERY_TIMEOUT_MS, (handle) =>
    handle.query(batchPredictStatusQuery),
  );
}
