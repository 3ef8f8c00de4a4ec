import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareCanary, windowCounts } from '../../workflows/canary-analysis';

const base = {
  stableVersion: '1',
  canaryVersion: '2',
  step: 1,
  weight: 20,
  minRequests: 10,
  maxErrorRateIncrease: 0.01,
};

describe('canary analysis', () => {
  it('counts only the window between two cumulative snapshots', () => {
    const counts = windowCounts(
      { '2': { requests: 100, errors: 5 } },
      { '2': { requests: 150, errors: 15 } },
      '2',
    );
    assert.deepEqual(counts, { requests: 50, errors: 10, errorRate: 0.2 });
  });

  it('treats a counter reset (replica restart) as an empty window, never negative', () => {
    assert.deepEqual(
      windowCounts({ '2': { requests: 100, errors: 5 } }, { '2': { requests: 3, errors: 0 } }, '2'),
      {
        requests: 0,
        errors: 0,
        errorRate: 0,
      },
    );
  });

  it('waits while the canary has fewer requests than the step needs', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: { '1': { requests: 50, errors: 0 }, '2': { requests: 9, errors: 9 } },
    });
    assert.equal(result.verdict, 'insufficient-traffic');
  });

  it('fails when the canary error rate exceeds stable plus the threshold, naming both rates', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: { '1': { requests: 100, errors: 1 }, '2': { requests: 20, errors: 2 } },
    });
    assert.equal(result.verdict, 'fail');
    assert.match(result.reason, /canary v2 10\.00% \(2\/20\) vs stable v1 1\.00% \(1\/100\)/);
    assert.match(result.reason, /rollout\.maxErrorRateIncrease/);
  });

  it('passes when the canary is within the threshold', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: { '1': { requests: 100, errors: 2 }, '2': { requests: 50, errors: 1 } },
    });
    assert.equal(result.verdict, 'pass');
  });
});
