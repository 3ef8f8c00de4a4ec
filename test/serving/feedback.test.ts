import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { logLoss } from '../../serving/metrics';
import type { ErrorBody } from '../../serving/errors';
import { PredictionIdCodec } from '../../serving/prediction-id';
import type { FeedbackResponse } from '../../serving/routes/feedback-schema';
import type { PredictResponse } from '../../serving/routes/predict';
import {
  ADMIN_TOKEN,
  createServingFixture,
  metricValue,
  request,
  validInstance,
  type ServingFixture,
} from './fixture';

const KEY = 'feedback-test-key-shared-by-replicas';

interface Served {
  id: string;
  version: string;
  probability: number;
}

describe('feedback', () => {
  let fixture: ServingFixture;
  let replicaA: string;
  let replicaB: string;

  before(async () => {
    fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    const v2 = await fixture.saveVersion('2');
    await fixture.deploy({
      revision: 1,
      stable: { version: '1', modelUri: v1 },
      canary: { version: '2', modelUri: v2, weight: 50 },
    });
    ({ url: replicaA } = await fixture.start({ feedbackKey: KEY, logPredictions: false }));
    ({ url: replicaB } = await fixture.start({ feedbackKey: KEY, logPredictions: false }));
  });
  after(() => fixture.close());

  async function predict(url: string, count: number): Promise<Served[]> {
    const served: Served[] = [];
    for (let user = 0; user < count; user++) {
      const res = await request<PredictResponse>(`${url}/v1/models/ctr:predict`, {
        body: { instances: [await validInstance({ hour: user % 24 }), await validInstance({ device: 'x' })] },
        headers: { 'x-routing-key': `user-${user}-${url}` },
      });
      assert.equal(res.status, 200);
      for (const p of res.body.predictions) {
        served.push({
          id: p.prediction_id,
          version: res.body.model_version,
          probability: p.click_probability,
        });
      }
    }
    return served;
  }

  const feedbackUrl = (url: string) => `${url}/v1/feedback`;

  it('joins feedback sent to another replica to the version that served, in count and log loss', async () => {
    const served = await predict(replicaA, 12);
    assert.ok(new Set(served.map((s) => s.version)).size === 2, 'both versions should have served');
    const clicks: Array<0 | 1> = served.map((_, i) => (i % 3 === 0 ? 1 : 0));
    const feedback = served.map((s, i) => ({ prediction_id: s.id, clicked: clicks[i] }));
    const res = await request<FeedbackResponse>(feedbackUrl(replicaB), { body: { feedback } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { accepted: served.length, unknown: [], duplicates: [] });
    for (const version of ['1', '2']) {
      const mine = served
        .map((s, i) => ({ ...s, clicked: clicks[i] ?? 0 }))
        .filter((s) => s.version === version);
      const losses = mine.map((s) => logLoss(s.probability, s.clicked));
      const expectedLoss = losses.reduce((sum, loss) => sum + loss, 0);
      const expectedSquared = losses.reduce((sum, loss) => sum + loss * loss, 0);
      const labels = { model: 'ctr', version };
      assert.equal(await metricValue(replicaB, 'mlops_feedback_total', labels), mine.length);
      const loss = await metricValue(replicaB, 'mlops_feedback_log_loss_sum', labels);
      assert.ok(Math.abs(loss - expectedLoss) < 1e-6, `version ${version}: ${loss} vs ${expectedLoss}`);
      // The squared sum gives the window's variance: present and exact, and larger than zero.
      const squared = await metricValue(replicaB, 'mlops_feedback_log_loss_squared_sum', labels);
      assert.ok(expectedSquared > 0);
      assert.ok(
        Math.abs(squared - expectedSquared) < 1e-6,
        `version ${version}: squared ${squared} vs ${expectedSquared}`,
      );
      // The replica that served saw none of it: replicas share no state, the id carries it all.
      assert.equal(await metricValue(replicaA, 'mlops_feedback_total', labels), 0);
    }
  });

  it('counts an id once per replica and reports repeats as duplicates', async () => {
    const [first] = await predict(replicaA, 1);
    // `label`, the generic name; `clicked` (its older name) is counted the same.
    const item = { prediction_id: first?.id ?? '', label: 1 };
    const labels = { model: 'ctr', version: first?.version ?? '' };
    const before = await metricValue(replicaA, 'mlops_feedback_total', labels);
    const once = await request<FeedbackResponse>(feedbackUrl(replicaA), { body: { feedback: [item, item] } });
    assert.deepEqual(once.body, { accepted: 1, unknown: [], duplicates: [item.prediction_id] });
    const again = await request<FeedbackResponse>(feedbackUrl(replicaA), { body: { feedback: [item] } });
    assert.deepEqual(again.body, { accepted: 0, unknown: [], duplicates: [item.prediction_id] });
    assert.equal(await metricValue(replicaA, 'mlops_feedback_total', labels), before + 1);
  });

  it('reports tampered, foreign, expired and made-up ids as unknown without failing the rest', async () => {
    const [good, other] = await predict(replicaA, 1);
    const id = other?.id ?? '';
    const tampered = `${id.slice(0, 10)}${id[10] === 'A' ? 'B' : 'A'}${id.slice(11)}`;
    const foreign = new PredictionIdCodec(ADMIN_TOKEN).issue({
      model: 'ctr',
      version: '1',
      probability: 0.5,
    });
    const expired = new PredictionIdCodec(KEY).issue(
      { model: 'ctr', version: '1', probability: 0.5 },
      Date.now() - 8 * 24 * 3600 * 1000,
    );
    const unknown = [tampered, foreign, expired, 'made-up', '00000000-0000-0000-0000-000000000000'];
    const res = await request<FeedbackResponse>(feedbackUrl(replicaB), {
      body: {
        feedback: [
          { prediction_id: good?.id, clicked: 0 },
          ...unknown.map((x) => ({ prediction_id: x, clicked: 1 })),
        ],
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { accepted: 1, unknown, duplicates: [] });
    assert.equal(await metricValue(replicaB, 'mlops_feedback_rejected_total', { reason: 'expired' }), 1);
    assert.equal(await metricValue(replicaB, 'mlops_feedback_rejected_total', { reason: 'invalid' }), 4);
  });

  it('honours a shorter maximum age', async () => {
    const { url } = await fixture.start({ feedbackKey: KEY, logPredictions: false, feedbackMaxAgeMs: 50 });
    const [served] = await predict(url, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const res = await request<FeedbackResponse>(feedbackUrl(url), {
      body: { feedback: [{ prediction_id: served?.id, clicked: 1 }] },
    });
    assert.deepEqual(res.body, { accepted: 0, unknown: [served?.id], duplicates: [] });
  });

  describe('rejects malformed bodies with a 400 and a reason', () => {
    const cases: Array<{ name: string; code: string; reason: RegExp; body: unknown }> = [
      { name: 'no body', code: 'invalid_request', reason: /body must be object/, body: undefined },
      { name: 'invalid JSON', code: 'invalid_json', reason: /not valid JSON/, body: '{"feedback": [' },
      {
        name: 'missing feedback',
        code: 'invalid_request',
        reason: /must have required property 'feedback'/,
        body: {},
      },
      {
        name: 'feedback not an array',
        code: 'invalid_request',
        reason: /body\.feedback must be array/,
        body: { feedback: {} },
      },
      {
        name: 'empty feedback',
        code: 'invalid_request',
        reason: /fewer than 1 items/,
        body: { feedback: [] },
      },
      {
        name: 'too many items',
        code: 'invalid_request',
        reason: /body\.feedback must NOT have more than 1000 items/,
        body: { feedback: Array.from({ length: 1001 }, () => ({ prediction_id: 'x', clicked: 0 })) },
      },
      {
        name: 'no outcome',
        code: 'invalid_request',
        reason: /body\.feedback\[1\] needs exactly one of label or clicked/,
        body: { feedback: [{ prediction_id: 'x', clicked: 0 }, { prediction_id: 'y' }] },
      },
      {
        name: 'both label and clicked',
        code: 'invalid_request',
        reason: /body\.feedback\[0\] needs exactly one of label or clicked/,
        body: { feedback: [{ prediction_id: 'x', clicked: 0, label: 1 }] },
      },
      {
        name: 'label 2',
        code: 'invalid_request',
        reason: /body\.feedback\[0\]\.label must be equal to one of the allowed values/,
        body: { feedback: [{ prediction_id: 'x', label: 2 }] },
      },
      {
        name: 'missing prediction_id',
        code: 'invalid_request',
        reason: /body\.feedback\[0\] must have required property 'prediction_id'/,
        body: { feedback: [{ clicked: 1 }] },
      },
      {
        name: 'clicked 2',
        code: 'invalid_request',
        reason: /body\.feedback\[0\]\.clicked must be equal to one of the allowed values/,
        body: { feedback: [{ prediction_id: 'x', clicked: 2 }] },
      },
      {
        name: 'clicked as boolean',
        code: 'invalid_request',
        reason: /body\.feedback\[0\]\.clicked must be integer/,
        body: { feedback: [{ prediction_id: 'x', clicked: true }] },
      },
      {
        name: 'prediction_id as number',
        code: 'invalid_request',
        reason: /body\.feedback\[0\]\.prediction_id must be string/,
        body: { feedback: [{ prediction_id: 7, clicked: 1 }] },
      },
      {
        name: 'empty prediction_id',
        code: 'invalid_request',
        reason: /prediction_id must NOT have fewer than 1 characters/,
        body: { feedback: [{ prediction_id: '', clicked: 1 }] },
      },
    ];
    for (const testCase of cases) {
      it(`${testCase.name} → 400 ${testCase.code}`, async () => {
        const res = await request<ErrorBody>(feedbackUrl(replicaA), {
          method: 'POST',
          body: testCase.body,
          headers: typeof testCase.body === 'string' ? { 'content-type': 'application/json' } : {},
        });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.code, testCase.code);
        assert.match(res.body.error, testCase.reason);
      });
    }
  });

  it('exposes the score histogram of every predicted instance per version and role', async () => {
    const { url } = await fixture.start({ feedbackKey: KEY, logPredictions: false });
    const served = await predict(url, 6);
    let observed = 0;
    for (const [version, role] of [
      ['1', 'stable'],
      ['2', 'canary'],
    ] as const) {
      const labels = { model: 'ctr', version, role };
      const count = await metricValue(url, 'mlops_prediction_score_count', labels);
      const sum = await metricValue(url, 'mlops_prediction_score_sum', labels);
      const mine = served.filter((s) => s.version === version);
      assert.equal(count, mine.length);
      assert.ok(Math.abs(sum - mine.reduce((total, s) => total + s.probability, 0)) < 1e-6);
      observed += count;
    }
    assert.equal(observed, served.length);
    const text = (await request<string>(`${url}/metrics`)).body;
    assert.match(
      text,
      /mlops_prediction_score_bucket\{le="0.05",model="ctr",version="1",role="stable"\} \d+/,
    );
    assert.match(
      text,
      /mlops_prediction_score_bucket\{le="\+Inf",model="ctr",version="1",role="stable"\} \d+/,
    );
  });
});
