import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NumericHistogram,
  bucketCounts,
  countOutside,
  quantileEdges,
} from '../../../lib/dataset/numeric-histogram';

const total = (bins: Array<[number, number]>) => bins.reduce((sum, [, count]) => sum + count, 0);

void describe('NumericHistogram', () => {
  void it('keeps one bin per integer value while they fit, so counts are exact', () => {
    const histogram = new NumericHistogram();
    for (const value of [3, 1, 3, 0, 23, 3]) histogram.add(value);
    assert.deepEqual(histogram.toJSON().bins, [
      [0, 1],
      [1, 1],
      [3, 3],
      [23, 1],
    ]);
  });

  void it('doubles its bin width to stay within its budget, losing no count', () => {
    const histogram = new NumericHistogram(16);
    for (let i = 0; i < 10_000; i++) histogram.add(Math.sin(i) * 1000);
    const json = histogram.toJSON();
    assert.ok(json.bins.length <= 16, `${json.bins.length} bins`);
    assert.equal(total(json.bins), 10_000);
    // Bins are aligned multiples of the width, ascending.
    for (const [lower] of json.bins) assert.equal(Math.floor(lower / json.binWidth) * json.binWidth, lower);
  });

  void it('merges into the same histogram as adding every value to one, whatever the split', () => {
    const values = Array.from({ length: 5000 }, (_, i) => ((i * 7919) % 1013) / 3);
    const whole = new NumericHistogram(64);
    for (const value of values) whole.add(value);
    const left = new NumericHistogram(64);
    const right = new NumericHistogram(64);
    values.forEach((value, i) => (i % 3 === 0 ? left : right).add(value));
    left.merge(right);
    assert.deepEqual(left.toJSON(), whole.toJSON());
  });

  void it('survives values so large the finest width overflows', () => {
    const histogram = new NumericHistogram();
    histogram.add(1e307);
    histogram.add(-1e307);
    assert.equal(total(histogram.toJSON().bins), 2);
  });
});

void describe('quantileEdges and bucketCounts', () => {
  void it('cut uniform integers into buckets of equal mass', () => {
    const histogram = new NumericHistogram();
    for (let value = 1; value <= 100; value++) histogram.add(value);
    const edges = quantileEdges(histogram.toJSON(), 4);
    assert.deepEqual(edges, [25, 50, 75]);
    assert.deepEqual(bucketCounts(histogram.toJSON(), edges), [25, 25, 25, 25]);
  });

  void it('give discrete data fewer, distinct edges', () => {
    const histogram = new NumericHistogram();
    for (let i = 0; i < 70; i++) histogram.add(0);
    for (let i = 0; i < 30; i++) histogram.add(1);
    const edges = quantileEdges(histogram.toJSON(), 10);
    assert.deepEqual(edges, [0]);
    assert.deepEqual(bucketCounts(histogram.toJSON(), edges), [70, 30]);
  });

  void it('put values beyond the edges in the outer buckets', () => {
    const baseline = new NumericHistogram();
    for (let value = 10; value < 20; value++) baseline.add(value);
    const edges = quantileEdges(baseline.toJSON(), 2);
    const current = new NumericHistogram();
    for (const value of [-5, 0, 14, 100]) current.add(value);
    assert.deepEqual(bucketCounts(current.toJSON(), edges), [3, 1]);
  });

  void it('count the values outside a range', () => {
    const histogram = new NumericHistogram();
    for (const value of [-1, 0, 5, 23, 24, 30]) histogram.add(value);
    assert.equal(countOutside(histogram.toJSON(), 0, 23), 3);
  });
});
