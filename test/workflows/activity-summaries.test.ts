import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTIVITY_SUMMARIES, withSummaries } from '../../workflows/activity-summaries';

describe('activity summaries', () => {
  it('say what a call does with its own input', () => {
    assert.equal(
      ACTIVITY_SUMMARIES.applyDeployment({
        model: 'ctr',
        stable: { version: '2', modelUri: 'a' },
        canary: { version: '3', modelUri: 'b', weight: 10 },
      }),
      'Route 10% of ctr traffic to v3 and the rest to v2 on every replica',
    );
    assert.equal(
      ACTIVITY_SUMMARIES.recordApproval({
        model: 'ctr',
        version: '3',
        approval: { decision: 'approved', by: 'alice', at: '', gate: 'full-traffic' },
      }),
      'Record in the registry: ctr v3 approved by alice (full-traffic gate)',
    );
  });

  it('wraps a proxy so every known activity is called with its summary and its arguments', async () => {
    const calls: Array<{ options: unknown; args: unknown[] }> = [];
    const activity = Object.assign((..._args: unknown[]) => Promise.resolve('plain call'), {
      executeWithOptions: (options: unknown, args: unknown[]) => {
        calls.push({ options, args });
        return Promise.resolve('with options');
      },
    });
    const proxy = withSummaries({
      setProductionAlias: activity,
      notSummarized: activity,
    });
    assert.equal(await proxy.setProductionAlias({ model: 'ctr', version: '4' }), 'with options');
    assert.deepEqual(calls, [
      { options: { summary: "Point ctr's production alias at v4" }, args: [{ model: 'ctr', version: '4' }] },
    ]);
    assert.equal(await proxy.notSummarized(1), 'plain call', 'an activity without a summary is left alone');
    assert.equal(calls.length, 1);
  });
});
