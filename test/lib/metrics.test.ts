import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeAuc, computeLogLoss } from '../../lib/metrics';

void describe('computeAuc', () => {
  void it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    assert.equal(computeAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 1);
    assert.equal(computeAuc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]), 0);
  });

  void it("matches scikit-learn's roc_auc_score example", () => {
    assert.equal(computeAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
  });

  void it('counts tied scores as half a correct ordering', () => {
    assert.equal(computeAuc([0, 1], [0.5, 0.5]), 0.5);
    assert.equal(computeAuc([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]), 0.5);
    // Pairs (neg, pos): (0.2,0.5) ✓ (0.2,0.9) ✓ (0.5,0.5) ½ (0.5,0.9) ✓ → 3.5 / 4.
    assert.equal(computeAuc([0, 0, 1, 1], [0.2, 0.5, 0.5, 0.9]), 0.875);
  });

  void it('agrees with counting pairs on a larger random sample', () => {
    let state = 3;
    const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
    const labels = Array.from({ length: 300 }, () => (random() < 0.3 ? 1 : 0));
    // Rounded scores force many ties.
    const scores = labels.map((y) => Math.round((random() + y * 0.3) * 10) / 10);
    let wins = 0;
    let pairs = 0;
    labels.forEach((yi, i) =>
      labels.forEach((yj, j) => {
        if (yi !== 1 || yj !== 0) return;
        pairs++;
        wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }),
    );
    assert.ok(Math.abs(computeAuc(labels, Float32Array.from(scores)) - wins / pairs) < 1e-12);
  });

  void it('refuses a single class with a reason', () => {
    assert.throws(
      () => computeAuc([1, 1, 1], [0.1, 0.2, 0.3]),
      /only one class is present \(3 positive, 0 negative/,
    );
  });

  void it('refuses mismatched lengths, bad labels and non-finite scores', () => {
    assert.throws(() => computeAuc([0, 1], [0.1]), /differ in length \(2 vs 1\)/);
    assert.throws(() => computeAuc([0, 2], [0.1, 0.2]), /label 1 must be 0 or 1/);
    assert.throws(() => computeAuc([0, 1], [0.1, NaN]), /scores 1 must be a finite number/);
    assert.throws(() => computeAuc([], []), /zero examples/);
  });
});

void describe('computeLogLoss', () => {
  void it('matches a hand-computed value', () => {
    // -(ln 0.9 + ln 0.8 + ln 0.7 + ln 0.6) / 4, as sklearn.metrics.log_loss gives for this input.
    const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.7) + Math.log(0.6)) / 4;
    assert.ok(Math.abs(computeLogLoss([1, 0, 0, 1], [0.9, 0.2, 0.3, 0.6]) - expected) < 1e-12);
    assert.ok(Math.abs(expected - 0.2990011586691898) < 1e-12);
  });

  void it('is ln 2 for coin-flip predictions', () => {
    assert.ok(Math.abs(computeLogLoss([0, 1], [0.5, 0.5]) - Math.LN2) < 1e-12);
  });

  void it('clips certain wrong answers to a finite cost', () => {
    const loss = computeLogLoss([1, 0], [0, 1]);
    assert.ok(Number.isFinite(loss));
    assert.ok(Math.abs(loss - -Math.log(1e-7)) < 1e-6);
  });
});
