import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findThresholdFailures, type BlessingThresholds } from '../../../activities/evaluate/blessing';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import type { ModelMetrics } from '../../../contracts/temporal';
import type { ProductionMetrics } from '../../../contracts/evaluation';

const DEFAULTS = pipelineConfigSchema.parse({}).evaluate;
const CANDIDATE: ModelMetrics = { auc: 0.7, logLoss: 0.45, accuracy: 0.8, ece: 0.03, count: 1000 };
const PRODUCTION: ProductionMetrics = { ...CANDIDATE, version: '6' };

const thresholds = (overrides: Partial<BlessingThresholds> = {}): BlessingThresholds => ({
  ...DEFAULTS,
  ...overrides,
});

void describe('evaluate config', () => {
  void it('has change thresholds on by default and the optional absolute ones off', () => {
    assert.deepEqual(DEFAULTS, {
      minAuc: 0.55,
      maxAucDropVsProduction: 0.01,
      maxLogLossIncreaseVsProduction: 0.02,
      maxEceIncreaseVsProduction: 0.05,
    });
    assert.equal(pipelineConfigSchema.parse({ evaluate: { maxEce: 0.05 } }).evaluate.maxEce, 0.05);
  });

  void it('still accepts a config with only the original keys', () => {
    const config = pipelineConfigSchema.parse({ evaluate: { minAuc: 0, maxAucDropVsProduction: 1 } });
    assert.equal(config.evaluate.maxLogLossIncreaseVsProduction, 0.02);
  });

  void it('refuses a misspelt or out-of-range threshold', () => {
    assert.throws(() => pipelineConfigSchema.parse({ evaluate: { maxEceIncrease: 0.1 } }), /maxEceIncrease/);
    assert.throws(() => pipelineConfigSchema.parse({ evaluate: { maxLogLoss: -1 } }));
  });
});

void describe('findThresholdFailures', () => {
  void it('blesses a candidate equal to production under the defaults', () => {
    assert.deepEqual(findThresholdFailures(CANDIDATE, PRODUCTION, DEFAULTS), []);
  });

  void it('explains evaluate.minAuc with the value, the threshold and the gap', () => {
    const [failure, ...rest] = findThresholdFailures({ ...CANDIDATE, auc: 0.5412 }, undefined, DEFAULTS);
    assert.deepEqual(rest, []);
    assert.equal(failure!.message, 'AUC 0.5412 is below the minimum 0.55 by 0.0088 (evaluate.minAuc)');
    assert.equal(failure!.metric, 'auc');
    assert.equal(failure!.kind, 'absolute');
    assert.equal(failure!.configKey, 'evaluate.minAuc');
    assert.equal(failure!.threshold, 0.55);
    assert.equal(failure!.candidate, 0.5412);
    assert.ok(Math.abs(failure!.excess - 0.0088) < 1e-12);
    assert.equal(failure!.production, undefined);
  });

  void it('explains evaluate.maxLogLoss and evaluate.maxEce, which are off unless set', () => {
    const bad = { ...CANDIDATE, logLoss: 0.7123, ece: 0.0812 };
    assert.deepEqual(findThresholdFailures(bad, undefined, DEFAULTS), []);
    const failures = findThresholdFailures(bad, undefined, thresholds({ maxLogLoss: 0.7, maxEce: 0.05 }));
    assert.deepEqual(
      failures.map((failure) => failure.message),
      [
        'log loss 0.7123 is above the maximum 0.7 by 0.0123 (evaluate.maxLogLoss)',
        'ECE 0.0812 is above the maximum 0.05 by 0.0312 (evaluate.maxEce)',
      ],
    );
  });

  void it('explains evaluate.maxAucDropVsProduction with both values and the excess', () => {
    const [failure] = findThresholdFailures({ ...CANDIDATE, auc: 0.685 }, PRODUCTION, DEFAULTS);
    assert.equal(
      failure!.message,
      'AUC 0.6850 is 0.0150 below production v6 (0.7000): 0.0050 more than the allowed drop of 0.01 ' +
        '(evaluate.maxAucDropVsProduction)',
    );
    assert.equal(failure!.kind, 'vsProduction');
    assert.equal(failure!.production, 0.7);
    assert.equal(failure!.productionVersion, '6');
  });

  void it('explains evaluate.maxLogLossIncreaseVsProduction', () => {
    const [failure] = findThresholdFailures({ ...CANDIDATE, logLoss: 0.48 }, PRODUCTION, DEFAULTS);
    assert.equal(
      failure!.message,
      'log loss 0.4800 is 0.0300 above production v6 (0.4500): 0.0100 more than the allowed increase ' +
        'of 0.02 (evaluate.maxLogLossIncreaseVsProduction)',
    );
    assert.equal(failure!.configKey, 'evaluate.maxLogLossIncreaseVsProduction');
  });

  void it('explains evaluate.maxEceIncreaseVsProduction', () => {
    const [failure] = findThresholdFailures({ ...CANDIDATE, ece: 0.1 }, PRODUCTION, DEFAULTS);
    assert.equal(
      failure!.message,
      'ECE 0.1000 is 0.0700 above production v6 (0.0300): 0.0200 more than the allowed increase of 0.05 ' +
        '(evaluate.maxEceIncreaseVsProduction)',
    );
  });

  void it('lists every failed threshold, absolute ones first', () => {
    const failures = findThresholdFailures(
      { ...CANDIDATE, auc: 0.5, logLoss: 0.9, ece: 0.2 },
      PRODUCTION,
      thresholds({ maxLogLoss: 0.69, maxEce: 0.1 }),
    );
    assert.deepEqual(
      failures.map((failure) => failure.configKey),
      [
        'evaluate.minAuc',
        'evaluate.maxLogLoss',
        'evaluate.maxEce',
        'evaluate.maxAucDropVsProduction',
        'evaluate.maxLogLossIncreaseVsProduction',
        'evaluate.maxEceIncreaseVsProduction',
      ],
    );
    assert.ok(failures.every((failure) => failure.excess > 0));
  });

  void it('passes a value exactly on a threshold, float noise included', () => {
    // 0.7 - 0.69 is 0.010000000000000009 in binary floating point.
    assert.deepEqual(findThresholdFailures({ ...CANDIDATE, auc: 0.69 }, PRODUCTION, DEFAULTS), []);
    assert.deepEqual(findThresholdFailures({ ...CANDIDATE, auc: 0.55 }, undefined, DEFAULTS), []);
    assert.deepEqual(findThresholdFailures({ ...CANDIDATE, logLoss: 0.47 }, PRODUCTION, DEFAULTS), []);
  });

  void it('skips change thresholds without production, and metrics an older summary lacks', () => {
    assert.deepEqual(findThresholdFailures({ ...CANDIDATE, logLoss: 5, ece: 0.9 }, undefined, DEFAULTS), []);
    const { ece: _ece, ...older } = PRODUCTION;
    assert.deepEqual(findThresholdFailures({ ...CANDIDATE, ece: 0.9 }, older, DEFAULTS), []);
  });

  void it('shows as many decimals as it takes for a tiny excess to show', () => {
    const [failure] = findThresholdFailures({ ...CANDIDATE, auc: 0.54999 }, undefined, DEFAULTS);
    assert.equal(failure!.message, 'AUC 0.549990 is below the minimum 0.55 by 0.000010 (evaluate.minAuc)');
  });
});
