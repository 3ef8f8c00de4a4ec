import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkApprovePayload,
  checkDecidePayload,
  checkGateNotice,
  checkRejectPayload,
  checkRolloutCommandPayload,
  checkSupersedePayload,
} from '../../contracts/signal-payloads';

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

describe('decision payloads: versions and unknown fields', () => {
  it('accepts the reviewed version as a string or a number', () => {
    assert.deepEqual(checkApprovePayload({ by: 'a', version: 3 }), {
      ok: true,
      value: { by: 'a', version: '3' },
    });
    assert.deepEqual(checkRejectPayload({ by: 'a', version: ' 12 ' }), {
      ok: true,
      value: { by: 'a', version: '12' },
    });
  });

  for (const [label, payload, pattern] of [
    [
      'a misspelt comment',
      { by: 'a', coment: 'typo' },
      /unknown field "coment"; allowed: "by", "comment", "version"/,
    ],
    ['a reason on approve', { by: 'a', reason: 'x' }, /unknown field "reason"/],
    ['a fractional version', { by: 'a', version: 1.5 }, /"version" must be a version number/],
    ['a named version', { by: 'a', version: 'latest' }, /"version" must be a version number/],
  ] as const) {
    it(`refuses ${label} with a reason`, () => {
      const checked = checkApprovePayload(payload);
      assert.equal(checked.ok, false);
      assert.match((checked as { reason: string }).reason, pattern);
    });
  }
});

describe('the decide Update payload', () => {
  it('accepts an approval with a comment and a rejection with a reason', () => {
    assert.deepEqual(checkDecidePayload({ decision: 'approve', by: 'a', comment: 'ok', version: '2' }), {
      ok: true,
      value: { decision: 'approve', by: 'a', comment: 'ok', version: '2' },
    });
    assert.deepEqual(checkDecidePayload({ decision: 'reject', by: 'b', reason: 'worse' }), {
      ok: true,
      value: { decision: 'reject', by: 'b', reason: 'worse' },
    });
  });

  for (const [label, payload, pattern] of [
    ['no decision', { by: 'a' }, /"decision" must be "approve" or "reject", got undefined/],
    ['another decision', { decision: 'maybe', by: 'a' }, /got "maybe"/],
    ['a reason on an approval', { decision: 'approve', by: 'a', reason: 'x' }, /unknown field "reason"/],
    ['no by', { decision: 'reject' }, /"by" must be a non-empty string/],
    ['a list', [], /must be a JSON object/],
  ] as const) {
    it(`refuses ${label}`, () => {
      const checked = checkDecidePayload(payload);
      assert.equal(checked.ok, false);
      assert.match((checked as { reason: string }).reason, pattern);
    });
  }
});

describe('internal notices', () => {
  it('checks supersede payloads', () => {
    assert.deepEqual(checkSupersedePayload({ version: '4', workflowId: 'w' }), {
      ok: true,
      value: { version: '4', workflowId: 'w' },
    });
    assert.equal(checkSupersedePayload({ version: 4, workflowId: 'w' }).ok, false);
    assert.equal(checkSupersedePayload({ version: '4' }).ok, false);
  });

  it('checks gate notices', () => {
    assert.deepEqual(checkGateNotice({ state: 'waiting', weight: 50, deadline: '2026-01-01T00:00:00Z' }), {
      ok: true,
      value: { state: 'waiting', weight: 50, deadline: '2026-01-01T00:00:00Z' },
    });
    assert.equal(checkGateNotice({ state: 'open', weight: 50 }).ok, false);
  });

  it('refuses unknown fields in rollout commands', () => {
    const checked = checkRolloutCommandPayload({ by: 'a', version: '3' });
    assert.equal(checked.ok, false);
  });
});
