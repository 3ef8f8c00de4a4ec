import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMonitorInput } from '../../../scripts/clients/monitor-client';

void describe('buildMonitorInput', () => {
  void it('takes the same drift defaults and checks as the validate stage', () => {
    const input = buildMonitorInput({ modelName: 'ctr' });
    assert.deepEqual(input.drift, {
      psiWarning: 0.1,
      psiCritical: 0.25,
      jsWarning: 0.02,
      jsCritical: 0.05,
      bins: 10,
      maxCategories: 20,
      minRows: 300,
      failOnCritical: false,
    });
    assert.throws(
      () =>
        buildMonitorInput({ modelName: 'ctr', config: { drift: { psiWarning: 0.5, psiCritical: 0.25 } } }),
      {
        message:
          'Invalid monitor configuration:\n  drift: drift warning thresholds must not exceed critical ones',
      },
    );
  });

  void it('refuses retraining without data, and a bad retry delay, saying which setting', () => {
    assert.throws(
      () => buildMonitorInput({ modelName: 'ctr', config: { action: 'retrain' } }),
      /needs the data URI/,
    );
    assert.throws(
      () => buildMonitorInput({ modelName: 'ctr', config: { retrainRetryAfterHours: 0 } }),
      /retrainRetryAfterHours: Too small/,
    );
  });
});
