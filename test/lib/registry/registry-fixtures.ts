/** A model version to register, for registry tests on any store. */
import type { CodeVersion } from '../../../lib/registry/code-version';
import type { NewModelVersion } from '../../../lib/registry/index';

export const CODE: CodeVersion = { packageVersion: '0.1.0', gitCommit: 'a'.repeat(40), gitDirty: false };

/**
 * The version a pipeline run `runId` would register for `model`, its URIs under `prefix`
 * (`'/'` for local paths, `'gs://'` for a bucket).
 */
export function registryEntry(
  runId: string,
  model = 'ctr',
  prefix = '/',
): NewModelVersion & { code: CodeVersion } {
  return {
    model,
    modelUri: `${prefix}models/${model}/${runId}`,
    metrics: { candidate: { auc: 0.7, logLoss: 0.5, count: 100 } },
    lineage: {
      data: {
        uri: `${prefix}data/ads`,
        trainUri: `${prefix}store/runs/pipeline-${runId}/${runId}/ingest/train.arrow`,
        evalUri: `${prefix}store/runs/pipeline-${runId}/${runId}/ingest/eval.arrow`,
        fingerprint: 'f'.repeat(64),
        schemaVersion: 1,
        trainRows: 80,
        evalRows: 20,
      },
      config: { train: { epochs: 2 } },
      training: { backend: 'cpu', device: 'cpu', epochs: 2, finalLoss: 0.42 },
      run: { workflowId: `pipeline-${runId}`, runId, workflowType: 'modelPipeline' },
    },
    code: CODE,
  };
}
