import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { parsePrometheusSamples } from '../../../activities/rollout/prometheus-samples';

describe('parsePrometheusSamples', () => {
  it('keeps every labelled histogram series apart, as prom-client writes them', async () => {
    const registry = new Registry();
    const histogram = new Histogram({
      name: 'latency_seconds',
      help: 'h',
      labelNames: ['version'],
      buckets: [0.1, 1],
      registers: [registry],
    });
    histogram.observe({ version: '1' }, 0.05);
    histogram.observe({ version: '2' }, 0.5);
    histogram.observe({ version: '2' }, 5);
    const samples = parsePrometheusSamples(await registry.metrics());
    const bucket = (version: string, le: string) =>
      samples.find(
        (s) => s.name === 'latency_seconds_bucket' && s.labels.version === version && s.labels.le === le,
      )?.value;
    assert.equal(bucket('1', '0.1'), 1);
    assert.equal(bucket('2', '0.1'), 0);
    assert.equal(bucket('2', '1'), 1);
    assert.equal(bucket('2', '+Inf'), 2);
    assert.equal(
      samples.find((s) => s.name === 'latency_seconds_count' && s.labels.version === '2')?.value,
      2,
    );
  });

  it('reads escaped label values, timestamps and special values, and skips malformed lines', async () => {
    const registry = new Registry();
    new Counter({ name: 'c_total', help: 'c', labelNames: ['path'], registers: [registry] }).inc(
      { path: 'a"b\\c\nd' },
      3,
    );
    const text = `${await registry.metrics()}\nbroken{line 1\nx{a="1"} NaN\ny 7 1700000000000\nz{a="1",} +Inf\n`;
    const samples = parsePrometheusSamples(text);
    assert.deepEqual(
      samples.find((s) => s.name === 'c_total'),
      { name: 'c_total', labels: { path: 'a"b\\c\nd' }, value: 3 },
    );
    assert.deepEqual(
      samples.find((s) => s.name === 'y'),
      { name: 'y', labels: {}, value: 7 },
    );
    assert.equal(samples.find((s) => s.name === 'z')?.value, Infinity);
    assert.equal(
      samples.some((s) => s.name === 'broken' || s.name === 'x'),
      false,
    );
  });
});
