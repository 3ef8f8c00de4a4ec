import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PredictionIdCodec } from '../../serving/prediction-id';

const DAY = 24 * 3600 * 1000;

describe('PredictionIdCodec', () => {
  const codec = new PredictionIdCodec('a-shared-secret');
  const now = Date.UTC(2025, 5, 1, 12);
  const claims = { model: 'ctr', version: '12', probability: Math.fround(0.123456) };

  it('round-trips model, version, exact float32 probability and issue time in a compact base64url id', () => {
    const id = codec.issue(claims, now);
    assert.match(id, /^[A-Za-z0-9_-]+$/);
    assert.ok(id.length <= 60, `${id.length} characters`);
    assert.deepEqual(codec.verify(id, now + 1000, 7 * DAY), {
      ok: true,
      claims: { ...claims, issuedAtMs: now },
    });
  });

  it('gives identical predictions different ids', () => {
    assert.notEqual(codec.issue(claims, now), codec.issue(claims, now));
  });

  it('reports every edited byte, another key, and garbage as invalid', () => {
    const id = codec.issue(claims, now);
    const bytes = Buffer.from(id, 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const edited = Buffer.from(bytes);
      edited[i] = (edited[i] ?? 0) ^ 0x01;
      assert.deepEqual(codec.verify(edited.toString('base64url'), now, DAY), {
        ok: false,
        reason: 'invalid',
      });
    }
    const other = new PredictionIdCodec('another-secret');
    assert.equal(other.verify(id, now, DAY).ok, false);
    for (const garbage of ['', 'abc', 'not base64!', id.slice(0, -2), `${id}AA`, 'A'.repeat(5000)]) {
      assert.deepEqual(codec.verify(garbage, now, DAY), { ok: false, reason: 'invalid' }, garbage);
    }
  });

  it('expires ids older than the maximum age and refuses ids from the future', () => {
    const id = codec.issue(claims, now - 8 * DAY);
    assert.deepEqual(codec.verify(id, now, 7 * DAY), { ok: false, reason: 'expired' });
    assert.equal(codec.verify(id, now, 9 * DAY).ok, true);
    assert.deepEqual(codec.verify(codec.issue(claims, now + DAY), now, 7 * DAY), {
      ok: false,
      reason: 'invalid',
    });
  });
});
