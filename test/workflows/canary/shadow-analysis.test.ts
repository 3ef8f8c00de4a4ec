import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import {
  emptyShadowTraffic,
  emptyTraffic,
  trafficWindow,
  type ShadowTraffic,
  type TrafficSnapshot,
} from '../../../contracts/traffic-window';
import { compareShadow, type ShadowSettings } from '../../../workflows/canary/shadow-analysis';

const rollout = pipelineConfigSchema.parse({}).rollout;
const settings = rollout.shadow as ShadowSettings;
const latency = (count: number) => ({ '0.005': count, '0.01': count, '+Inf': count });

/** A snapshot where stable v1 had `stableFeedback` labels and shadow v2 these counters. */
function snapshot(shadow: Partial<ShadowTraffic>, stableFeedback = 0): TrafficSnapshot {
  return {
    replica: {
      '1': { ...emptyTraffic(), requests: 1000, feedback: stableFeedback },
      '2': { ...emptyTraffic(), shadow: { ...emptyShadowTraffic(), ...shadow } },
    },
  };
}

/** `n` mirrored requests whose paired log-loss differences have this mean and variance. */
function paired(n: number, mean: number, variance: number): Partial<ShadowTraffic> {
  return {
    requests: n,
    pairs: n,
    shadowLatencyBuckets: latency(n),
    stableLatencyBuckets: latency(n),
    feedback: n,
    logLossDiffSum: n * mean,
    logLossDiffSquaredSum: (n - 1) * variance + n * mean * mean,
  };
}

const compare = (current: TrafficSnapshot, baseline: TrafficSnapshot = {}, elapsedSeconds = 30) =>
  compareShadow({
    baseline,
    current,
    stableVersion: '1',
    shadowVersion: '2',
    elapsedSeconds,
    shadow: settings,
    thresholds: rollout.thresholds,
  });

describe('shadow analysis', () => {
  it('passes an identical model: every paired difference is 0', () => {
    const result = compare(snapshot(paired(80, 0, 0), 200));
    assert.equal(result.verdict, 'pass', result.reason);
    assert.equal(result.meanScoreShift, 0);
    assert.equal(result.meanLogLossDifference, 0);
  });

  it('waits for its time and its requests before passing', () => {
    assert.match(compare(snapshot(paired(80, 0, 0), 200), {}, 3).reason, /waiting for 10 s in shadow/);
    assert.match(compare(snapshot(paired(20, 0, 0), 200)).reason, /20\/50 mirrored requests/);
  });

  it('fails a model worse on the same labels, naming the paired difference, its z and the keys', () => {
    const result = compare(snapshot(paired(100, 0.4, 0.6), 200));
    assert.equal(result.verdict, 'fail');
    assert.match(
      result.reason,
      /^online log loss: shadow − stable on the same 100 labels: \+0\.4000 ± 0\.0775 \(standard error\), z = 4\.52.*thresholds\.maxLogLossIncrease.*thresholds\.logLossSignificanceZ/,
    );
  });

  it('does not pass a model whose paired log loss is not yet shown within the margin', () => {
    // Mean within the margin, but too few labels to be sure: neither pass nor fail.
    const result = compare(snapshot(paired(60, 0.03, 0.5), 200));
    assert.equal(result.verdict, 'insufficient-traffic');
    assert.match(result.reason, /paired labels to show the log loss within the margin/);
  });

  it('fails on errors the shadow makes where stable answered', () => {
    const result = compare(snapshot({ ...paired(40, 0, 0), requests: 50, errors: 10 }));
    assert.equal(result.verdict, 'fail');
    assert.match(result.reason, /^error rate: shadow 20\.00% \(10\/50 mirrored requests\)/);
  });

  it("fails a shadow whose scores move far from stable's on the same instances", () => {
    const result = compare(snapshot({ ...paired(60, 0, 0), scoreDiffSum: 42, scoreDiffSquaredSum: 36 }));
    assert.equal(result.verdict, 'fail');
    assert.match(
      result.reason,
      /root mean square 0\.7746; threshold is 0\.5 \(rollout\.shadow\.maxScoreShift\)/,
    );
  });

  it('windows shadow counters between snapshots, and counts a restarted source whole', () => {
    const before = snapshot({ ...paired(50, 0.1, 0.2), scoreDiffSum: -5 });
    const after = snapshot({ ...paired(80, 0.1, 0.2), scoreDiffSum: -7 });
    const window = trafficWindow(before, after, '2').shadow!;
    assert.equal(window.pairs, 30);
    assert.ok(Math.abs(window.scoreDiffSum - -2) < 1e-12, 'a sum of differences may fall');
    // A cluster worker restarted: its pairs went down although requests did not.
    const restarted = snapshot({ ...paired(80, 0.1, 0.2), pairs: 10 });
    assert.equal(trafficWindow(before, restarted, '2').shadow!.pairs, 10);
  });

  it('judges a rollout whose thresholds predate logLossSignificanceZ by the old default', () => {
    const { logLossSignificanceZ: _omitted, ...older } = rollout.thresholds;
    const result = compareShadow({
      baseline: {},
      current: snapshot(paired(100, 0.4, 0.6), 200),
      stableVersion: '1',
      shadowVersion: '2',
      elapsedSeconds: 30,
      shadow: settings,
      thresholds: older as typeof rollout.thresholds,
    });
    assert.equal(result.verdict, 'fail');
    assert.match(result.reason, /z > 2\.33/);
  });
});
