/** Setup shared by the monitor activity tests: drift settings and a registered production version. */
import { ModelRegistry } from '../../../lib/registry/index';
import { joinUri } from '../../../lib/storage/index';

/** The default drift settings, with a critical drift that does not fail the measurement. */
export const DRIFT = {
  psiWarning: 0.1,
  psiCritical: 0.25,
  jsWarning: 0.02,
  jsCritical: 0.05,
  bins: 10,
  maxCategories: 20,
  minRows: 300,
  failOnCritical: false,
};

/** Registers version 1 of `model` in the registry at `store` and makes it production. */
export async function registerProduction(store: string, model: string): Promise<void> {
  const registry = new ModelRegistry(store);
  const record = await registry.register({
    model,
    modelUri: joinUri(store, 'models', model, '1'),
    metrics: {},
    lineage: {
      data: {
        uri: '/data',
        trainUri: '/t',
        evalUri: '/e',
        fingerprint: 'f'.repeat(64),
        schemaVersion: 1,
        trainRows: 1,
        evalRows: 1,
      },
      config: {},
      training: { backend: 'cpu', device: 'cpu', epochs: 1 },
      run: { workflowId: 'p', runId: 'r', workflowType: 'modelPipeline' },
    },
    code: { packageVersion: '0.1.0', gitCommit: 'a'.repeat(40), gitDirty: false },
  });
  await registry.setProduction(model, record.version);
}
