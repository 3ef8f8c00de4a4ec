/** Setup shared by the evaluateModel tests: a tiny architecture, untrained models, a mock activity run. */
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { ActivityDeps } from '../../../activities/deps';
import { createEvaluateActivities, type EvaluateInput } from '../../../activities/evaluate/evaluate';
import type { EvaluationSummary } from '../../../contracts/evaluation';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import type { AdExample } from '../../../lib/dataset/schema';
import { createModel, disposeModel, fitPreprocessing, saveModelBundle } from '../../../lib/model/index';

export const IMAGE_SIZE = 8;
/** A model small enough that scoring thousands of rows takes well under a second. */
export const CONFIG = pipelineConfigSchema.parse({
  train: { conv: { filters: [2], denseUnits: 4 }, embeddingDim: 2 },
});

/** Runs evaluateModel in a mock activity context, passing each heartbeat to `onHeartbeat`. */
export function runEvaluateModel(
  deps: ActivityDeps,
  input: EvaluateInput,
  workflowId: string,
  onHeartbeat?: (details: unknown) => void,
): Promise<EvaluationSummary> {
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId, runId: 'run' } },
    { logger: new DefaultLogger('ERROR') },
  );
  if (onHeartbeat) env.on('heartbeat', onHeartbeat);
  const run = (i: EvaluateInput) => createEvaluateActivities(deps).evaluateModel(i);
  return env.run<[EvaluateInput], EvaluationSummary, typeof run>(run, input);
}

/** Saves an untrained model, its weights from `seed`, preprocessing fitted to `examples`, as `store/name`. */
export async function saveUntrainedModel(
  store: string,
  name: string,
  seed: number,
  examples: AdExample[],
  imageSize: number = IMAGE_SIZE,
): Promise<string> {
  const preprocessing = fitPreprocessing(examples, imageSize, ADS_FEATURE_SPEC);
  const model = createModel({ ...CONFIG.train, seed }, preprocessing);
  const uri = path.join(store, name);
  await saveModelBundle({ model, preprocessing }, uri);
  disposeModel(model);
  return uri;
}
