import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countersFromSamples } from '../../../activities/rollout/traffic-counters';

describe('countersFromSamples', () => {
  it('counts the split by version, leaving out requests that named their version (pinned)', () => {
    const requests = 'mlops_prediction_requests_total';
    const latency = 'mlops_prediction_latency_seconds_bucket';
    const counters = countersFromSamples(
      [
        {
          name: requests,
          labels: { model: 'ctr', version: '2', role: 'canary', outcome: 'success' },
          value: 5,
        },
        {
          name: requests,
          labels: { model: 'ctr', version: '2', role: 'canary', outcome: 'error' },
          value: 1,
        },
        {
          name: requests,
          labels: { model: 'ctr', version: '2', role: 'pinned', outcome: 'error' },
          value: 40,
        },
        { name: latency, labels: { model: 'ctr', version: '2', role: 'pinned', le: '0.1' }, value: 40 },
        { name: latency, labels: { model: 'ctr', version: '2', role: 'canary', le: '0.1' }, value: 6 },
        {
          name: requests,
          labels: { model: 'ctr', version: '1', role: 'stable', outcome: 'success' },
          value: 9,
        },
        {
          name: requests,
          labels: { model: 'other', version: '1', role: 'stable', outcome: 'success' },
          value: 7,
        },
      ],
      'ctr',
    );
    assert.equal(counters['2']!.requests, 6);
    assert.equal(counters['2']!.errors, 1);
    assert.deepEqual(counters['2']!.latencyBuckets, { '0.1': 6 });
    assert.equal(counters['1']!.requests, 9);
  });
});
