import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePipelineConfig } from '../../../scripts/clients/pipeline-client';

void describe('resolvePipelineConfig', () => {
  void it('sends training to the GPU workers’ queue when the configuration names none', () => {
    assert.equal(resolvePipelineConfig({}, { gpuTaskQueue: 'gpu-east' }).taskQueues.gpu, 'gpu-east');
    assert.equal(resolvePipelineConfig(undefined, { gpuTaskQueue: 'gpu-east' }).taskQueues.gpu, 'gpu-east');
    assert.equal(
      resolvePipelineConfig({ taskQueues: {}, train: { epochs: 2 } }, { gpuTaskQueue: 'gpu-east' }).taskQueues
        .gpu,
      'gpu-east',
    );
  });

  void it('keeps a queue the configuration names', () => {
    const config = resolvePipelineConfig({ taskQueues: { gpu: 'gpu-big' } }, { gpuTaskQueue: 'gpu-east' });
    assert.equal(config.taskQueues.gpu, 'gpu-big');
  });

  void it('falls back to the schema default without either', () => {
    assert.equal(resolvePipelineConfig({}).taskQueues.gpu, 'ml-gpu');
  });

  void it('still refuses an invalid configuration', () => {
    assert.throws(
      () => resolvePipelineConfig({ taskQueues: { gpu: '' } }, { gpuTaskQueue: 'gpu-east' }),
      /Invalid pipeline configuration:\n {2}taskQueues\.gpu: /,
    );
  });
});
