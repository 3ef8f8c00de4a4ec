/** Canary counters read from a real Prometheus server agree with the replica's own /metrics. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queryPrometheus, readPrometheusTraffic } from '../../../activities/rollout/prometheus-client';
import { readReplicaTraffic } from '../../../activities/rollout/serving-client';
import { startPrometheus } from '../../helpers/prometheus-server';
import type { PredictResponse } from '../../../serving/routes/predict';
import { createServingFixture, request, validInstance } from '../../serving/fixture';

describe('readPrometheusTraffic', { timeout: 60_000 }, () => {
  it('reports the same per-version counters as the replica, keyed by scraped instance', async () => {
    await using fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    await fixture.deploy({ revision: 1, stable: { version: '1', modelUri: v1 } });
    const replica = await fixture.start();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const response = await request<PredictResponse>(`${replica.url}/v1/models/ctr:predict`, {
        body: { instances: [await validInstance({ hour: i })] },
      });
      assert.equal(response.status, 200);
      ids.push(...response.body.predictions.map((p) => p.prediction_id));
    }
    // Feedback for the log-loss counters, the squared sum among them.
    const feedback = await request(`${replica.url}/v1/feedback`, {
      body: { feedback: ids.map((id, i) => ({ prediction_id: id, clicked: i % 3 === 0 ? 1 : 0 })) },
    });
    assert.equal(feedback.status, 200);
    await using prometheus = await startPrometheus([replica.url]);

    const direct = Object.values(await readReplicaTraffic(replica.url, 'ctr'))[0]!['1']!;
    assert.equal(direct.requests, 12);
    assert.equal(direct.feedback, 12);
    assert.ok(direct.logLossSquaredSum !== undefined && direct.logLossSquaredSum > 0);
    // Wait for a scrape taken after the requests.
    let viaPrometheus;
    for (let attempt = 0; attempt < 100; attempt++) {
      const snapshot = await readPrometheusTraffic(prometheus.url, 'ctr');
      viaPrometheus = Object.values(snapshot)[0]?.['1'];
      if (viaPrometheus?.requests === 12 && viaPrometheus.feedback === 12) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(viaPrometheus, 'Prometheus scraped the replica');
    assert.equal(viaPrometheus.requests, direct.requests);
    assert.equal(viaPrometheus.errors, 0);
    assert.deepEqual(viaPrometheus.latencyBuckets['+Inf'], 12);
    assert.deepEqual(viaPrometheus.scoreBuckets['+Inf'], 12);
    assert.equal(viaPrometheus.feedback, 12);
    // Prometheus returns sample values as decimal strings: equal to float precision.
    assert.ok(Math.abs(viaPrometheus.logLossSum - direct.logLossSum) < 1e-9);
    assert.ok(Math.abs(viaPrometheus.logLossSquaredSum! - direct.logLossSquaredSum) < 1e-9);
  });

  it("fails with Prometheus's own message on a bad query", async () => {
    await using prometheus = await startPrometheus(['http://127.0.0.1:9']);
    await assert.rejects(queryPrometheus(prometheus.url, 'sum by ('), /Prometheus query failed \(400\)/);
  });
});
