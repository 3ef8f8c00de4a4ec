/**
 * The shadow mirror on a real server: users are answered by stable alone; copies of their requests
 * are scored by the shadow version afterwards and compared on the same instances; labels for
 * stable's prediction ids join both sides; a full queue drops copies, never answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { featureSpecSchema } from '../../contracts/feature-spec';
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';
import { logLoss } from '../../serving/metrics';
import type { ModelStatusResponse } from '../../serving/routes/model-status';
import { eventually } from '../helpers/eventually';
import { createServingFixture, metricValue, request, validInstance, type ServingFixture } from './fixture';

type Answer = {
  predictions: Array<{ click_probability: number; prediction_id: string }>;
  model_version: string;
};

/** A spec needing a column today's clients do not send. */
const NEW_COLUMN_SPEC = featureSpecSchema.parse({
  ...ADS_FEATURE_SPEC,
  csv: { ...ADS_FEATURE_SPEC.csv, columns: [...(ADS_FEATURE_SPEC.csv.columns ?? []), 'ad_age_days'] },
  features: [...ADS_FEATURE_SPEC.features, { column: 'ad_age_days', kind: 'numeric', min: 0 }],
});

const SHADOW = { model: 'ctr', version: '2', stable_version: '1' };

describe('the shadow mirror', () => {
  let fixture: ServingFixture;
  let stableUri: string;
  let shadowUri: string;

  before(async () => {
    fixture = await createServingFixture();
    stableUri = await fixture.saveVersion('1', 1);
    shadowUri = await fixture.saveVersion('2', 2);
    await fixture.deploy({
      revision: 1,
      stable: { version: '1', modelUri: stableUri },
      shadow: { version: '2', modelUri: shadowUri, percent: 100 },
    });
  });
  after(() => fixture.close());

  it('answers from stable only, then scores each copy with the shadow and pairs their scores', async () => {
    const { url } = await fixture.start();
    const instances = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) => validInstance({ headline_length: 20 + i * 9 })),
    );
    const stableScores: number[] = [];
    const shadowScores: number[] = [];
    for (const instance of instances) {
      const answer = await request<Answer>(`${url}/v1/models/ctr:predict`, {
        body: { instances: [instance] },
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.model_version, '1', 'the shadow serves no one');
      stableScores.push(answer.body.predictions[0]!.click_probability);
      // The shadow's own score of the same instance, asked for by version (counted apart as pinned).
      const pinned = await request<Answer>(`${url}/v1/models/ctr/versions/2:predict`, {
        body: { instances: [instance] },
      });
      shadowScores.push(pinned.body.predictions[0]!.click_probability);
    }
    await eventually(
      async () =>
        (await metricValue(url, 'mlops_shadow_requests_total', { ...SHADOW, outcome: 'success' })) === 6
          ? true
          : undefined,
      'six mirrored requests scored',
    );
    assert.equal(await metricValue(url, 'mlops_shadow_score_pairs_total', SHADOW), 6);
    const expectedSum = shadowScores.reduce((sum, p, i) => sum + (p - stableScores[i]!), 0);
    assert.ok(Math.abs((await metricValue(url, 'mlops_shadow_score_diff_sum', SHADOW)) - expectedSum) < 1e-5);
    assert.equal(
      await metricValue(url, 'mlops_shadow_model_latency_seconds_count', { ...SHADOW, side: 'shadow' }),
      6,
    );
    assert.equal(
      await metricValue(url, 'mlops_shadow_model_latency_seconds_count', { ...SHADOW, side: 'stable' }),
      6,
    );
    // Mirrored copies are not requests of version 2 in the split canary analysis reads.
    assert.equal(
      await metricValue(url, 'mlops_prediction_requests_total', { version: '2', role: 'canary' }),
      0,
    );

    const status = await request<ModelStatusResponse>(`${url}/v1/models/ctr`);
    const shadowEntry = status.body.model_version_status.find((entry) => entry.version === '2');
    assert.deepEqual(
      { role: shadowEntry?.role, weight: shadowEntry?.weight, mirror_percent: shadowEntry?.mirror_percent },
      { role: 'shadow', weight: 0, mirror_percent: 100 },
    );
  });

  it("joins a label for stable's prediction id to both sides: the paired log-loss difference", async () => {
    const { url } = await fixture.start();
    const instance = await validInstance();
    const answer = await request<Answer>(`${url}/v1/models/ctr:predict`, { body: { instances: [instance] } });
    const stable = answer.body.predictions[0]!;
    const shadow = (
      await request<Answer>(`${url}/v1/models/ctr/versions/2:predict`, { body: { instances: [instance] } })
    ).body.predictions[0]!;
    await eventually(
      async () =>
        (await metricValue(url, 'mlops_shadow_score_pairs_total', SHADOW)) === 1 ? true : undefined,
      'the copy scored',
    );
    const feedback = await request<{ accepted: number }>(`${url}/v1/feedback`, {
      body: { feedback: [{ prediction_id: stable.prediction_id, label: 1 }] },
    });
    assert.equal(feedback.body.accepted, 1);
    assert.equal(await metricValue(url, 'mlops_shadow_feedback_total', SHADOW), 1);
    const expected = logLoss(shadow.click_probability, 1) - logLoss(stable.click_probability, 1);
    assert.ok(Math.abs((await metricValue(url, 'mlops_shadow_log_loss_diff_sum', SHADOW)) - expected) < 1e-5);
  });

  it('drops copies when its queue is full and counts them; every user is still answered by stable', async () => {
    const { url } = await fixture.start({ shadowQueueCapacity: 0 });
    const instance = await validInstance();
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        request<Answer>(`${url}/v1/models/ctr:predict`, { body: { instances: [instance] } }),
      ),
    );
    assert.deepEqual(
      new Set(answers.map((a) => `${a.status} v${a.body.model_version}`)),
      new Set(['200 v1']),
    );
    assert.equal(await metricValue(url, 'mlops_shadow_dropped_total', { model: 'ctr', version: '2' }), 12);
    assert.equal(await metricValue(url, 'mlops_shadow_requests_total', { ...SHADOW, outcome: 'success' }), 0);
  });

  it("counts a request the shadow's spec cannot read as its error, and answers the user", async () => {
    const store = await createServingFixture();
    try {
      const stable = await store.saveVersion('1', 1);
      const needsColumn = await store.saveVersion('3', 3, NEW_COLUMN_SPEC);
      await store.deploy({
        revision: 1,
        stable: { version: '1', modelUri: stable },
        shadow: { version: '3', modelUri: needsColumn, percent: 100 },
      });
      const { url } = await store.start();
      const answer = await request<Answer>(`${url}/v1/models/ctr:predict`, {
        body: { instances: [await validInstance()] },
      });
      assert.equal(answer.status, 200);
      const labels = { model: 'ctr', version: '3', stable_version: '1', outcome: 'error' };
      await eventually(
        async () =>
          (await metricValue(url, 'mlops_shadow_requests_total', labels)) === 1 ? true : undefined,
        "the shadow's error counted",
      );
    } finally {
      await store.close();
    }
  });
});
