import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chiSquaredZ, exceedanceTail, gTest, normalUpperTail } from '../../../workflows/canary/statistics';

const close = (actual: number, expected: number, tolerance: number) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

describe('canary statistics', () => {
  it('reads the standard normal upper tail at known points', () => {
    close(normalUpperTail(0), 0.5, 1e-7);
    close(normalUpperTail(1.96), 0.025, 1e-4);
    close(normalUpperTail(2.33), 0.0099, 1e-4);
    close(normalUpperTail(3.09), 0.001, 1e-5);
    close(normalUpperTail(-1.96), 0.975, 1e-4);
  });

  it('turns chi-squared statistics into z at known critical values (Wilson–Hilferty)', () => {
    // χ²(10) = 23.21 and χ²(3) = 11.34 are the 1% points; χ²(18) = 42.31 the 0.1% point.
    close(chiSquaredZ(23.21, 10), 2.33, 0.02);
    close(chiSquaredZ(11.34, 3), 2.33, 0.05);
    close(chiSquaredZ(42.31, 18), 3.09, 0.03);
    assert.ok(chiSquaredZ(10, 10) < 0.5, 'a statistic at its degrees of freedom is no evidence');
  });

  it('gives the exceedance distribution exactly: known values, and probabilities summing to 1', () => {
    // Of 20 canary draws, how many exceed the largest of 20 stable draws of the same distribution.
    close(exceedanceTail(20, 1, 20, 1), 0.5, 1e-12); // P(K ≥ 1) = 1 − ns / (ns + nc)
    close(exceedanceTail(20, 1, 20, 2), 1 - 0.5 - (20 * 20) / (40 * 39), 1e-12);
    close(exceedanceTail(20, 1, 20, 20), 1 / 137846528820, 1e-20); // 1 / C(40, 20)
    for (const [ns, j, nc] of [
      [100, 1, 10],
      [300, 3, 40],
      [25, 5, 200],
    ] as const) {
      let total = 0;
      for (let k = 0; k <= nc; k++) total += exceedanceTail(ns, j, nc, k) - exceedanceTail(ns, j, nc, k + 1);
      close(total, 1, 1e-9);
    }
    assert.equal(exceedanceTail(50, 1, 10, 0), 1);
    assert.equal(exceedanceTail(50, 1, 10, 11), 0);
  });

  it('matches a simulation of the exceedance test', () => {
    // 20 000 draws of (ns = 50, nc = 15) uniforms: how often do 3 or more canary draws exceed the 2nd largest stable one?
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let hits = 0;
    const trials = 20_000;
    for (let trial = 0; trial < trials; trial++) {
      const stable = Array.from({ length: 50 }, random).sort((a, b) => b - a);
      const exceed = Array.from({ length: 15 }, random).filter((x) => x > stable[1]!).length;
      if (exceed >= 3) hits++;
    }
    close(hits / trials, exceedanceTail(50, 2, 15, 3), 0.01);
  });

  it('finds no difference between equal samples and a large one between disjoint ones (G-test)', () => {
    assert.deepEqual(gTest([10, 20, 30], [10, 20, 30]), { statistic: 0, df: 2 });
    const disjoint = gTest([50, 0, 0], [0, 0, 50]);
    assert.equal(disjoint.df, 1, 'an empty bin is no degree of freedom');
    close(disjoint.statistic, 2 * 100 * Math.LN2, 1e-9); // 2 N ln 2 × JSD of 1 bit
  });
});
