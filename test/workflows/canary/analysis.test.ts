import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLogLoss, compareCanary, type AnalysisThresholds } from '../../../workflows/canary/analysis';
import { binomialTail } from '../../../workflows/canary/statistics';
import {
  emptyTraffic,
  histogramQuantile,
  jensenShannonDivergence,
  trafficWindow,
  type TrafficSnapshot,
  type VersionCounters,
  type VersionTraffic,
} from '../../../contracts/traffic-window';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';

const thresholds: AnalysisThresholds = pipelineConfigSchema.parse({}).rollout.thresholds;
const base = { stableVersion: '1', canaryVersion: '2', step: 1, weight: 20, minRequests: 10, thresholds };
const traffic = (fields: Partial<VersionTraffic>): VersionTraffic => ({ ...emptyTraffic(), ...fields });
/**
 * Counters of `labels` feedback labels whose per-label log loss has this mean and unbiased
 * variance: Σx = n·mean, Σx² = (n − 1)·variance + n·mean².
 */
const labelled = (labels: number, mean: number, variance: number): Partial<VersionTraffic> => ({
  feedback: labels,
  logLossSum: labels * mean,
  logLossSquaredSum: (labels - 1) * variance + labels * mean * mean,
});
/** A snapshot from a single replica. */
const at = (versions: VersionCounters): TrafficSnapshot => ({ replica: versions });

/** A cumulative histogram with `count` observations all in the bucket ending at `le`. */
const oneBucket = (bounds: string[], le: string, count: number) =>
  Object.fromEntries(
    bounds.map((bound) => [bound, bound === '+Inf' || Number(bound) >= Number(le) ? count : 0]),
  );
const LATENCY_BOUNDS = ['0.005', '0.01', '0.05', '0.1', '0.5', '+Inf'];
const SCORE_BOUNDS = ['0.25', '0.5', '0.75', '+Inf'];

describe('traffic windows', () => {
  it('counts only what happened between two cumulative snapshots', () => {
    const window = trafficWindow(
      at({
        '2': traffic({
          requests: 100,
          errors: 5,
          feedback: 10,
          logLossSum: 5,
          latencyBuckets: { '0.01': 90, '+Inf': 100 },
        }),
      }),
      at({
        '2': traffic({
          requests: 150,
          errors: 15,
          feedback: 30,
          logLossSum: 17,
          latencyBuckets: { '0.01': 120, '+Inf': 150 },
        }),
      }),
      '2',
    );
    assert.deepEqual(
      window,
      traffic({
        requests: 50,
        errors: 10,
        feedback: 20,
        logLossSum: 12,
        latencyBuckets: { '0.01': 30, '+Inf': 50 },
      }),
    );
  });

  it('differences each replica on its own and sums: one replica restarting cannot hide the others', () => {
    const baseline = {
      'a@1': { '2': traffic({ requests: 300, errors: 0 }) },
      'b@1': { '2': traffic({ requests: 200 }) },
    };
    // Replica b restarted (new start time): everything its new process counted belongs to the window.
    const current = {
      'a@1': { '2': traffic({ requests: 500, errors: 42 }) },
      'b@9': { '2': traffic({ requests: 50, errors: 8 }) },
    };
    assert.deepEqual(trafficWindow(baseline, current, '2'), traffic({ requests: 250, errors: 50 }));
  });

  it('treats a counter that went down as a reset and counts what the new process saw', () => {
    const window = trafficWindow(
      at({ '2': traffic({ requests: 100, errors: 5 }) }),
      at({ '2': traffic({ requests: 3, errors: 1 }) }),
      '2',
    );
    assert.equal(window.requests, 3);
    assert.equal(window.errors, 1);
  });

  it('differences the squared log-loss sum per replica like the sum, restarts included', () => {
    const baseline = {
      'a@1': { '2': traffic({ feedback: 10, logLossSum: 5, logLossSquaredSum: 4 }) },
      'b@1': { '2': traffic({ feedback: 10, logLossSum: 6, logLossSquaredSum: 5 }) },
    };
    const current = {
      'a@1': { '2': traffic({ feedback: 30, logLossSum: 17, logLossSquaredSum: 14 }) },
      'b@9': { '2': traffic({ feedback: 3, logLossSum: 2, logLossSquaredSum: 1.5 }) },
    };
    assert.deepEqual(
      trafficWindow(baseline, current, '2'),
      traffic({ feedback: 23, logLossSum: 14, logLossSquaredSum: 11.5 }),
    );
  });

  it('leaves the squared sum unknown, not zero, when a source with feedback lacks it', () => {
    const withIt = traffic({ feedback: 10, logLossSum: 5, logLossSquaredSum: 4 });
    const without = traffic({ feedback: 10, logLossSum: 5 });
    // An older replica next to a newer one: the sum over both is unknown.
    const mixed = trafficWindow({}, { 'a@1': { '2': withIt }, 'old@1': { '2': without } }, '2');
    assert.equal(mixed.feedback, 20);
    assert.equal(mixed.logLossSquaredSum, undefined);
    // A baseline taken without it cannot be differenced either.
    const fromOld = trafficWindow(
      at({ '2': without }),
      at({ '2': traffic({ ...withIt, feedback: 20 }) }),
      '2',
    );
    assert.equal(fromOld.logLossSquaredSum, undefined);
    // Without feedback there is nothing to square: a source lacking it counts as 0.
    const quiet = trafficWindow(
      {},
      { 'a@1': { '2': withIt }, 'q@1': { '2': traffic({ requests: 5 }) } },
      '2',
    );
    assert.equal(quiet.logLossSquaredSum, 4);
  });

  it('interpolates quantiles within a bucket as Prometheus histogram_quantile does', () => {
    // 100 observations: 50 in (0, 0.1], 50 in (0.1, 0.2] → p50 = 0.1, p99 = 0.1 + 0.1 × 49/50.
    const buckets = { '0.1': 50, '0.2': 100, '+Inf': 100 };
    assert.equal(histogramQuantile(buckets, 0.5), 0.1);
    assert.ok(Math.abs(histogramQuantile(buckets, 0.99)! - 0.198) < 1e-9);
    assert.equal(histogramQuantile({ '0.1': 0, '+Inf': 0 }, 0.99), undefined);
    assert.equal(
      histogramQuantile({ '0.1': 0, '+Inf': 10 }, 0.99),
      0.1,
      'the +Inf bucket answers its lower bound',
    );
  });

  it('measures Jensen-Shannon divergence: ~0 for equal distributions, ~1 for disjoint ones', () => {
    const low = oneBucket(SCORE_BOUNDS, '0.25', 1000);
    const high = { '0.25': 0, '0.5': 0, '0.75': 0, '+Inf': 1000 };
    assert.ok(jensenShannonDivergence(low, low) < 1e-9);
    assert.ok(jensenShannonDivergence(low, high) > 0.99);
    const half = { '0.25': 500, '0.5': 500, '0.75': 500, '+Inf': 1000 };
    // P = (1, 0, 0, 0), Q = (½, 0, 0, ½): JS = 1 − ¾·log2(4/3)·… ≈ 0.311 (smoothing shifts it slightly).
    assert.ok(Math.abs(jensenShannonDivergence(low, half) - 0.311) < 0.01);
  });
});

describe('canary analysis', () => {
  it('waits while the canary has fewer requests than the step needs', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({ '1': traffic({ requests: 50 }), '2': traffic({ requests: 9, errors: 1 }) }),
    });
    assert.equal(result.verdict, 'insufficient-traffic');
  });

  it('fails before the minimum is reached when the errors cannot be chance at the allowed rate', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({ '1': traffic({ requests: 50 }), '2': traffic({ requests: 9, errors: 4 }) }),
    });
    assert.equal(result.verdict, 'fail');
  });

  it('does not fail early on a single error that could be chance', () => {
    const result = compareCanary({
      ...base,
      thresholds: { ...thresholds, maxErrorRateIncrease: 0.05 },
      baseline: {},
      current: at({ '1': traffic({ requests: 50 }), '2': traffic({ requests: 9, errors: 1 }) }),
    });
    assert.equal(result.verdict, 'insufficient-traffic');
  });

  it('computes binomial tails against known values', () => {
    assert.equal(binomialTail(10, 0, 0.3), 1);
    assert.equal(binomialTail(10, 11, 0.3), 0);
    // P(X ≥ 1) = 1 − 0.99^30; P(X ≥ 2 | n=4, p=½) = 11/16.
    assert.ok(Math.abs(binomialTail(30, 1, 0.01) - (1 - 0.99 ** 30)) < 1e-12);
    assert.ok(Math.abs(binomialTail(4, 2, 0.5) - 11 / 16) < 1e-12);
    assert.ok(binomialTail(14, 4, 0.01) < 1e-4);
    // Large n: (1 − p)^n underflows, the tail must not collapse to 1.
    assert.ok(binomialTail(100_000, 5_000, 0.01) < 1e-9);
    assert.ok(binomialTail(2_000, 1_900, 0.6) < 1e-9);
    assert.ok(Math.abs(binomialTail(100_000, 1_000, 0.01) - 0.5) < 0.02);
  });

  it('fails on error rate, naming both rates and the threshold', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({ '1': traffic({ requests: 100, errors: 1 }), '2': traffic({ requests: 20, errors: 2 }) }),
    });
    assert.equal(result.verdict, 'fail');
    assert.match(result.reason, /^error rate: canary 10\.00% \(2\/20\) vs stable 1\.00% \(1\/100\)/);
    assert.match(result.reason, /thresholds\.maxErrorRateIncrease/);
  });

  it('fails on p99 latency when the canary is both proportionally and absolutely slower', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 100, latencyBuckets: oneBucket(LATENCY_BOUNDS, '0.01', 100) }),
        '2': traffic({ requests: 30, latencyBuckets: oneBucket(LATENCY_BOUNDS, '0.1', 30) }),
      }),
    });
    assert.equal(result.verdict, 'fail');
    assert.match(result.reason, /^p99 latency: canary 99\.\d ms vs stable (9\.9|10\.0) ms/);
  });

  it('does not fail on a latency difference below the absolute floor', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 100, latencyBuckets: oneBucket(LATENCY_BOUNDS, '0.005', 100) }),
        '2': traffic({ requests: 30, latencyBuckets: oneBucket(LATENCY_BOUNDS, '0.01', 30) }),
      }),
    });
    assert.equal(result.verdict, 'pass');
  });

  it('fails when the score distribution shifts', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 100, scoreBuckets: oneBucket(SCORE_BOUNDS, '0.25', 100) }),
        '2': traffic({ requests: 30, scoreBuckets: { '0.25': 0, '0.5': 0, '0.75': 30, '+Inf': 30 } }),
      }),
    });
    assert.equal(result.verdict, 'fail');
    assert.match(result.reason, /^score distribution: Jensen-Shannon divergence 0\.9\d\d/);
  });

  it('passes identical models whose log loss differs by noise beyond the fixed margin', () => {
    // The demo's case: same weights, 0.6121 vs 0.5530 over 34 and 86 labels. The 0.059 difference
    // exceeds maxLogLossIncrease (0.05), but its standard error is ~0.11.
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 172, ...labelled(86, 0.553, 0.3) }),
        '2': traffic({ requests: 68, ...labelled(34, 0.6121, 0.3) }),
      }),
    });
    assert.equal(result.verdict, 'pass', result.reason);
    const check = result.checks.find((c) => c.metric === 'online log loss');
    assert.equal(check?.verdict, 'pass');
    assert.match(
      check?.detail ?? '',
      /^canary 0\.6121 \(34 labels\) vs stable 0\.5530 \(86 labels\); difference \+0\.0591 ± 0\.11\d\d \(standard error\), z = 0\.08/,
    );
    assert.match(check?.detail ?? '', /thresholds\.maxLogLossIncrease/);
    assert.match(check?.detail ?? '', /thresholds\.logLossSignificanceZ/);
  });

  it('fails a clearly worse model on online log loss, naming both thresholds', () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 60, ...labelled(30, 0.6, 0.4) }),
        '2': traffic({ requests: 60, ...labelled(30, 1.3, 0.4) }),
      }),
    });
    assert.equal(result.verdict, 'fail');
    // se = √(0.4/30 + 0.4/30) = 0.1633; z = (0.7 − 0.05) / 0.1633 = 3.98.
    assert.match(
      result.reason,
      /^online log loss: canary 1\.3000 \(30 labels\) vs stable 0\.6000 \(30 labels\); difference \+0\.7000 ± 0\.1633 \(standard error\), z = 3\.98/,
    );
    assert.match(result.reason, /stable \+ 0\.05 \(thresholds\.maxLogLossIncrease\)/);
    assert.match(result.reason, /z > 3\.5 \(thresholds\.logLossSignificanceZ\)/);
  });

  it('fails only beyond the margin: a significant difference smaller than maxLogLossIncrease passes', () => {
    // Thousands of labels make 0.04 highly significant, but it is within the allowed 0.05.
    const check = checkLogLoss(
      traffic(labelled(5000, 0.59, 0.3)),
      traffic(labelled(5000, 0.55, 0.3)),
      thresholds,
    );
    assert.equal(check.verdict, 'pass');
    assert.match(check.detail, /within the margin/);
  });

  it('weighs the excess over the margin by logLossSignificanceZ', () => {
    const canary = traffic(labelled(34, 0.6121, 0.3));
    const stable = traffic(labelled(86, 0.553, 0.3));
    // z = 0 is the plain margin: the noise above fails then.
    assert.equal(checkLogLoss(canary, stable, { ...thresholds, logLossSignificanceZ: 0 }).verdict, 'fail');
    // A far bigger difference still passes a demanding z.
    const worse = traffic(labelled(30, 1.3, 0.4));
    const base06 = traffic(labelled(30, 0.6, 0.4));
    assert.equal(checkLogLoss(worse, base06, { ...thresholds, logLossSignificanceZ: 5 }).verdict, 'pass');
    // Thresholds from a workflow started before the setting existed fall back to 2.33.
    const { logLossSignificanceZ: _omitted, ...older } = thresholds;
    assert.equal(checkLogLoss(worse, base06, older as AnalysisThresholds).verdict, 'fail');
    assert.equal(checkLogLoss(canary, stable, older as AnalysisThresholds).verdict, 'pass');
  });

  it('fails an excess with zero variance: every label lost the same', () => {
    const check = checkLogLoss(traffic(labelled(30, 1, 0)), traffic(labelled(30, 0.5, 0)), thresholds);
    assert.equal(check.verdict, 'fail');
    assert.match(check.detail, /z = ∞/);
  });

  it('never fails on log loss without squared sums: within the margin passes, beyond it waits', () => {
    const worse = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 100, feedback: 50, logLossSum: 25 }),
        '2': traffic({ requests: 60, feedback: 40, logLossSum: 52 }),
      }),
    });
    assert.equal(worse.verdict, 'insufficient-traffic');
    assert.match(worse.reason, /online log loss \(canary beyond thresholds\.maxLogLossIncrease/);
    const check = worse.checks.find((c) => c.metric === 'online log loss');
    assert.equal(check?.verdict, 'not enough data');
    assert.match(check?.detail ?? '', /standard error unknown/);

    const close = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 100, feedback: 50, logLossSum: 25 }),
        '2': traffic({ requests: 60, feedback: 40, logLossSum: 20.5 }),
      }),
    });
    assert.equal(close.verdict, 'pass', close.reason);
  });

  it("keeps waiting for the canary's feedback when stable already has enough", () => {
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 100, feedback: 50, logLossSum: 25 }),
        '2': traffic({ requests: 60, feedback: 5, logLossSum: 10 }),
      }),
    });
    assert.equal(result.verdict, 'insufficient-traffic');
    assert.match(result.reason, /online log loss \(5\/30 feedback labels\)/);
    assert.equal(
      result.checks.find((check) => check.metric === 'online log loss')?.verdict,
      'not enough data',
    );
  });

  it('passes a canary that is as good as stable on every metric', () => {
    const same = {
      latencyBuckets: oneBucket(LATENCY_BOUNDS, '0.01', 50),
      scoreBuckets: oneBucket(SCORE_BOUNDS, '0.5', 50),
    };
    const result = compareCanary({
      ...base,
      baseline: {},
      current: at({
        '1': traffic({ requests: 50, errors: 1, ...labelled(40, 0.5, 0.3), ...same }),
        '2': traffic({ requests: 50, errors: 1, ...labelled(40, 0.5125, 0.3), ...same }),
      }),
    });
    assert.equal(result.verdict, 'pass');
    assert.deepEqual(
      result.checks.map((check) => check.verdict),
      ['pass', 'pass', 'pass', 'pass'],
    );
  });
});
