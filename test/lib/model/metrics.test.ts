import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeAccuracy,
  computeAuc,
  computeBinaryMetrics,
  computeCalibrationBins,
  computeClickRate,
  computeExpectedCalibrationError,
  computeLogLoss,
  computeRocCurve,
  MAX_ROC_POINTS,
  type RocPoint,
} from '../../../lib/model/metrics';

const close = (actual: number | null, expected: number) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);

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

void describe('computeAccuracy', () => {
  void it('counts a probability of exactly 0.5 as a predicted click', () => {
    // Predicted 1, 1, 0, 0 against 1, 0, 1, 0: the first and last are right.
    assert.equal(computeAccuracy([1, 0, 1, 0], [0.5, 0.5, 0.4, 0.1]), 0.5);
    assert.equal(computeAccuracy([1, 0, 0, 1], [0.9, 0.2, 0.3, 0.6]), 1);
  });

  void it('takes another threshold', () => {
    assert.equal(computeAccuracy([1, 0, 1, 0], [0.5, 0.5, 0.4, 0.1], 0.3), 0.75);
  });
});

void describe('computeExpectedCalibrationError', () => {
  void it('weights each bin by its size', () => {
    // Bin [0.1, 0.2): p 0.12 0.18 0.15, y 0 1 0 → |0.15 − 1/3| · 3/6 = 0.0916…
    // Bin [0.8, 0.9): p 0.85, y 1 → 0.15 · 1/6 = 0.025
    // Bin [0.9, 1.0] (1.0 included): p 0.95 1.0, y 1 0 → |0.975 − 0.5| · 2/6 = 0.1583…
    close(computeExpectedCalibrationError([0, 1, 0, 1, 1, 0], [0.12, 0.18, 0.15, 0.85, 0.95, 1.0]), 0.275);
  });

  void it("is 0 when each bin's mean probability equals its click rate", () => {
    close(computeExpectedCalibrationError([0, 1, 0, 0, 0], [0.5, 0.5, 0, 0, 0]), 0);
  });

  void it('averages the gaps of single bins', () => {
    close(computeExpectedCalibrationError([0, 1, 0, 1], [0.5, 0.5, 0.55, 0.55]), 0.025);
    close(computeExpectedCalibrationError([1, 0, 1, 0], [0.05, 0.05, 0.5, 0.5]), (0.45 + 0) / 2);
    close(computeExpectedCalibrationError([1, 0, 0, 1], [0.9, 0.2, 0.3, 0.6]), (0.1 + 0.2 + 0.3 + 0.4) / 4);
  });

  void it('refuses a bad bin count', () => {
    assert.throws(() => computeExpectedCalibrationError([0], [0.1], 0), /bins must be a positive integer/);
  });
});

void describe('computeBinaryMetrics', () => {
  void it('computes every metric from one set of scores', () => {
    const metrics = computeBinaryMetrics([1, 0, 0, 1], [0.9, 0.2, 0.3, 0.6]);
    assert.equal(metrics.auc, 1);
    close(metrics.logLoss, 0.2990011586691898);
    assert.equal(metrics.accuracy, 1);
    close(metrics.ece, 0.25);
    assert.equal(metrics.clickRate, 0.5);
    assert.equal(metrics.count, 4);
  });

  void it('reports AUC as null, not an error, when only one class is present', () => {
    const metrics = computeBinaryMetrics([1, 1, 1], [0.7, 0.4, 0.9]);
    assert.equal(metrics.auc, null);
    close(metrics.accuracy, 2 / 3);
    assert.equal(metrics.clickRate, 1);
  });

  void it('click rate is the share of positive labels', () => {
    assert.equal(computeClickRate([1, 0, 0, 1, 1]), 0.6);
  });
});

/** A deterministic sample: labels with a 30% click rate, scores that rank clicks higher on average. */
function sample(n: number, seed: number, round?: number) {
  let state = seed;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
  const labels = Array.from({ length: n }, () => (random() < 0.3 ? 1 : 0));
  const scores = labels.map((y) => {
    const score = Math.min(1, random() * 0.8 + y * 0.2);
    return round ? Math.round(score * round) / round : score;
  });
  return { labels, scores };
}

/** Area under a polyline by the trapezoid rule. */
const trapezoid = (points: RocPoint[]) =>
  points.slice(1).reduce((area, p, i) => area + ((p.fpr - points[i]!.fpr) * (p.tpr + points[i]!.tpr)) / 2, 0);

void describe('computeRocCurve', () => {
  void it("matches scikit-learn's roc_curve example", () => {
    // roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]): fpr [0, 0, .5, .5, 1], tpr [0, .5, .5, 1, 1],
    // thresholds [inf, .8, .4, .35, .1].
    assert.deepEqual(computeRocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), [
      { fpr: 0, tpr: 0, threshold: null },
      { fpr: 0, tpr: 0.5, threshold: 0.8 },
      { fpr: 0.5, tpr: 0.5, threshold: 0.4 },
      { fpr: 0.5, tpr: 1, threshold: 0.35 },
      { fpr: 1, tpr: 1, threshold: 0.1 },
    ]);
  });

  void it('moves tied scores together, as one diagonal step', () => {
    assert.deepEqual(computeRocCurve([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]), [
      { fpr: 0, tpr: 0, threshold: null },
      { fpr: 0, tpr: 0.5, threshold: 0.9 },
      { fpr: 0.5, tpr: 1, threshold: 0.5 },
      { fpr: 1, tpr: 1, threshold: 0.2 },
    ]);
  });

  void it('drops points on a straight line between their neighbours', () => {
    assert.deepEqual(computeRocCurve([1, 1, 1, 0], [0.9, 0.8, 0.7, 0.1]), [
      { fpr: 0, tpr: 0, threshold: null },
      { fpr: 0, tpr: 1, threshold: 0.7 },
      { fpr: 1, tpr: 1, threshold: 0.1 },
    ]);
  });

  void it('encloses exactly the AUC when not downsampled', () => {
    const { labels, scores } = sample(500, 11, 20);
    const curve = computeRocCurve(labels, scores);
    assert.ok(curve.length < MAX_ROC_POINTS);
    assert.ok(Math.abs(trapezoid(curve) - computeAuc(labels, scores)) < 1e-12);
  });

  void it(`downsamples to at most ${MAX_ROC_POINTS} points of the curve, ends included, close in area`, () => {
    const { labels, scores } = sample(20_000, 5);
    const full = computeRocCurve(labels, scores, Number.MAX_SAFE_INTEGER);
    assert.ok(full.length > 1000, `${full.length} points before downsampling`);
    const curve = computeRocCurve(labels, scores);
    assert.ok(curve.length <= MAX_ROC_POINTS && curve.length > MAX_ROC_POINTS / 2, `${curve.length} points`);
    assert.deepEqual(curve[0], { fpr: 0, tpr: 0, threshold: null });
    assert.deepEqual(curve.at(-1), full.at(-1));
    const onCurve = new Set(full.map((point) => `${point.fpr},${point.tpr},${point.threshold}`));
    assert.ok(
      curve.every((point) => onCurve.has(`${point.fpr},${point.tpr},${point.threshold}`)),
      'every point is one of the full curve',
    );
    curve.slice(1).forEach((point, i) => {
      assert.ok(point.fpr >= curve[i]!.fpr && point.tpr >= curve[i]!.tpr, 'monotone');
    });
    assert.ok(Math.abs(trapezoid(curve) - computeAuc(labels, scores)) < 0.002);
    assert.equal(computeRocCurve(labels, scores, 2).length, 2);
  });

  void it('refuses a single class and a bad point budget', () => {
    assert.throws(() => computeRocCurve([0, 0], [0.1, 0.2]), /only one class is present/);
    assert.throws(() => computeRocCurve([0, 1], [0.1, 0.2], 1), /maxPoints must be an integer of at least 2/);
  });
});

void describe('computeCalibrationBins', () => {
  void it('gives each bin its size, mean probability and click rate, null when empty', () => {
    const bins = computeCalibrationBins([0, 1, 0, 1, 1, 0], [0.12, 0.18, 0.15, 0.85, 0.95, 1.0]);
    assert.equal(bins.length, 10);
    assert.deepEqual(
      bins.map((bin) => bin.count),
      [0, 3, 0, 0, 0, 0, 0, 0, 1, 2],
    );
    close(bins[1]!.meanProbability, 0.15);
    close(bins[1]!.clickRate, 1 / 3);
    assert.deepEqual(bins[8], { lower: 0.8, upper: 0.9, count: 1, meanProbability: 0.85, clickRate: 1 });
    // 1.0 falls in the last bin.
    close(bins[9]!.meanProbability, 0.975);
    assert.equal(bins[9]!.clickRate, 0.5);
    assert.deepEqual(bins[0], { lower: 0, upper: 0.1, count: 0, meanProbability: null, clickRate: null });
  });

  void it('gives the ECE as the size-weighted gap of its bins', () => {
    const { labels, scores } = sample(1000, 9);
    const bins = computeCalibrationBins(labels, scores, 15);
    const ece = bins.reduce(
      (sum, bin) => sum + (bin.count / 1000) * Math.abs((bin.meanProbability ?? 0) - (bin.clickRate ?? 0)),
      0,
    );
    assert.ok(Math.abs(ece - computeExpectedCalibrationError(labels, scores, 15)) < 1e-12);
    assert.equal(
      bins.reduce((sum, bin) => sum + bin.count, 0),
      1000,
    );
  });
});
