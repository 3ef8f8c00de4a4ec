import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkApprovePayload, checkRejectPayload } from '../../workflows/signal-payloads';

describe('decision payloads', () => {
  it('accepts {"by": "name"} with an optional comment or reason', () => {
    assert.deepEqual(checkApprovePayload({ by: ' alice ', comment: 'ok' }), {
      ok: true,
      value: { by: 'alice', comment: 'ok' },
    });
    assert.deepEqual(checkRejectPayload({ by: 'bob', reason: 'worse' }), {
      ok: true,
      value: { by: 'bob', reason: 'worse' },
    });
    assert.deepEqual(checkApprovePayload({ by: 'carol' }), { ok: true, value: { by: 'carol' } });
  });

  for (const [label, payload, pattern] of [
    ['undefined', undefined, /empty payload/],
    ['null', null, /empty payload/],
    ['a string', 'alice', /must be a JSON object/],
    ['an array', ['alice'], /must be a JSON object/],
    ['no by', {}, /"by" must be a non-empty string/],
    ['a numeric by', { by: 7 }, /"by" must be a non-empty string/],
    ['a blank by', { by: '   ' }, /"by" must be a non-empty string/],
    ['a numeric comment', { by: 'x', comment: 3 }, /"comment" must be a string/],
  ] as const) {
    it(`refuses ${label} with a reason`, () => {
      const checked = checkApprovePayload(payload);
      assert.equal(checked.ok, false);
      assert.match((checked as { reason: string }).reason, pattern);
    });
  }
});
