import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pipelineConfigSchema } from '../../contracts/pipeline-config';

/** The issues of a refused configuration, as `path: message` lines. */
function problems(config: unknown): string[] {
  const parsed = pipelineConfigSchema.safeParse(config);
  if (parsed.success) assert.fail('expected the configuration to be refused');
  return parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

void describe('pipelineConfigSchema', () => {
  void it('fills every section with its defaults from an empty object', () => {
    const config = pipelineConfigSchema.parse({});
    assert.equal(config.taskQueues.gpu, 'ml-gpu');
    assert.equal(config.data.imageSize, 32);
    assert.equal(config.train.epochs, 4);
    assert.deepEqual(config.train.conv, { filters: [8, 16], denseUnits: 16 });
    assert.equal(config.evaluate.minAuc, 0.55);
    assert.equal(config.approval.required, true);
    assert.equal(config.rollout.steps.at(-1)?.weight, 100);
    assert.equal(config.rollout.thresholds.minSamples, 20);
    assert.equal(config.rollout.thresholds.maxLogLossIncrease, 0.05);
    assert.equal(config.rollout.thresholds.logLossSignificanceZ, 3.5);
  });

  void it('takes a log-loss significance z of 0 or more and refuses a negative one', () => {
    const config = pipelineConfigSchema.parse({ rollout: { thresholds: { logLossSignificanceZ: 0 } } });
    assert.equal(config.rollout.thresholds.logLossSignificanceZ, 0);
    assert.deepEqual(problems({ rollout: { thresholds: { logLossSignificanceZ: -1 } } }), [
      'rollout.thresholds.logLossSignificanceZ: Too small: expected number to be >=0',
    ]);
  });

  void it('refuses statistics that keep fewer values than a schema domain may hold', () => {
    assert.deepEqual(problems({ data: { validation: { vocabularyTopK: 20 } } }), [
      'data.validation.vocabularyTopK: vocabularyTopK must be at least maxDomainSize (a domain needs every value counted)',
    ]);
    const config = pipelineConfigSchema.parse({
      data: { validation: { vocabularyTopK: 20, maxDomainSize: 20 } },
    });
    assert.equal(config.data.validation.vocabularyTopK, 20);
  });

  void it('fills the rest of a section that is given in part', () => {
    const config = pipelineConfigSchema.parse({ train: { epochs: 2, conv: { denseUnits: 8 } } });
    assert.equal(config.train.epochs, 2);
    assert.equal(config.train.batchSize, 32);
    assert.deepEqual(config.train.conv, { filters: [8, 16], denseUnits: 8 });
  });

  void it('refuses a misspelt key at any depth, naming its path', () => {
    assert.deepEqual(problems({ train: { epoch: 100 } }), ['train: Unrecognized key: "epoch"']);
    assert.deepEqual(problems({ train: { conv: { filter: [4] } } }), [
      'train.conv: Unrecognized key: "filter"',
    ]);
    assert.deepEqual(problems({ rollout: { thresholds: { maxErrorRate: 0.5 } } }), [
      'rollout.thresholds: Unrecognized key: "maxErrorRate"',
    ]);
    assert.deepEqual(problems({ rollout: { steps: [{ weight: 100, bake: 5 }] } }), [
      'rollout.steps.0: Unrecognized key: "bake"',
    ]);
    assert.deepEqual(problems({ taskQueue: { gpu: 'x' } }), ['(root): Unrecognized key: "taskQueue"']);
  });

  void it('refuses rollout steps that do not end at 100% or do not increase', () => {
    assert.deepEqual(problems({ rollout: { steps: [{ weight: 50 }] } }), [
      'rollout.steps: the last rollout step must send 100% of traffic',
    ]);
    assert.deepEqual(problems({ rollout: { steps: [{ weight: 50 }, { weight: 20 }, { weight: 100 }] } }), [
      'rollout.steps: rollout step weights must increase',
    ]);
    const config = pipelineConfigSchema.parse({ rollout: { steps: [{ weight: 25 }, { weight: 100 }] } });
    assert.deepEqual(config.rollout.steps, [
      { weight: 25, bakeSeconds: 10, minRequests: 20 },
      { weight: 100, bakeSeconds: 10, minRequests: 20 },
    ]);
  });
});
