import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ColumnProfile, MAX_TRACKED_DISTINCT } from '../../../lib/dataset/column-profile';

const MISSING = new Set(['', '?']);

function profileOf(values: Iterable<string>): ColumnProfile {
  const profile = new ColumnProfile('column', MISSING);
  for (const value of values) profile.add(value);
  return profile;
}

void describe('ColumnProfile', () => {
  void it('counts blanks, padding, numbers, integers and digits', () => {
    const profile = profileOf([' 12', '7 ', '', '?', '003', '-41']);
    assert.equal(profile.rows, 6);
    assert.equal(profile.missing, 2);
    assert.equal(profile.padded, 2);
    assert.ok(profile.allIntegers);
    assert.equal(profile.maxDigits, 3);
    assert.deepEqual([profile.min, profile.max], [-41, 12]);
    assert.deepEqual(
      profile.missingTokens,
      new Map([
        ['', 1],
        ['?', 1],
      ]),
    );
    const mixed = profileOf(['1.5', '2', 'n/a']);
    assert.ok(!mixed.allNumeric);
    assert.equal(mixed.fractional, 1);
  });

  void it('an id past the tracked values is still unique, its distinct count estimated within 5%', () => {
    const rows = MAX_TRACKED_DISTINCT * 3;
    const ids = profileOf(Array.from({ length: rows }, (_, i) => `user-${(i * 7919) % rows}`));
    assert.ok(ids.distinctOverflow);
    assert.ok(ids.unique);
    assert.ok(Math.abs(ids.distinct - rows) / rows < 0.05, `estimate ${ids.distinct} of ${rows}`);
  });

  void it('a column that repeats past the tracked values is not unique, however many values it has', () => {
    const rows = MAX_TRACKED_DISTINCT * 3;
    // 20 000 distinct values, each twice, the repeats all after tracking stopped.
    const half = rows / 2;
    const repeats = profileOf(Array.from({ length: rows }, (_, i) => `v${i % half}`));
    assert.ok(!repeats.unique);
    assert.ok(Math.abs(repeats.distinct - half) / half < 0.05, `estimate ${repeats.distinct} of ${half}`);
    // Repeats only among values never tracked: the sketch sees half as many distinct as rows.
    const late = profileOf([
      ...Array.from({ length: MAX_TRACKED_DISTINCT }, (_, i) => `a${i}`),
      ...Array.from({ length: rows }, (_, i) => `b${i % (rows / 4)}`),
    ]);
    assert.ok(!late.unique, `estimate ${late.distinct} of ${late.rows} rows`);
  });
});
