import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { featureSpecSchema } from '../../contracts/feature-spec';
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';
import type { ErrorBody } from '../../serving/errors';
import type { ModelMetadataResponse } from '../../serving/routes/model-metadata';
import { createServingFixture, request, validInstance, type ServingFixture } from './fixture';

// The canary's spec adds a numeric column and names its output differently; stable's has neither.
const CANARY_SPEC = featureSpecSchema.parse({
  ...ADS_FEATURE_SPEC,
  csv: { ...ADS_FEATURE_SPEC.csv, columns: [...(ADS_FEATURE_SPEC.csv.columns ?? []), 'ad_age_days'] },
  features: [...ADS_FEATURE_SPEC.features, { column: 'ad_age_days', kind: 'numeric', min: 0 }],
  output: 'ctr_score',
});

type Answer = { predictions: Array<Record<string, number | string>>; model_version: string };

describe('each version serves by its own feature spec', () => {
  let fixture: ServingFixture;
  let url: string;

  before(async () => {
    fixture = await createServingFixture();
    const stableUri = await fixture.saveVersion('1');
    const canaryUri = await fixture.saveVersion('2', 2, CANARY_SPEC);
    await fixture.deploy({
      revision: 1,
      stable: { version: '1', modelUri: stableUri },
      canary: { version: '2', modelUri: canaryUri, weight: 50 },
    });
    ({ url } = await fixture.start());
  });
  after(() => fixture.close());

  /** Answers for 40 routing keys, grouped by the version that served them. */
  async function byVersion(
    instance: Record<string, unknown>,
  ): Promise<Map<string, Array<{ status: number; body: Answer & ErrorBody }>>> {
    const groups = new Map<string, Array<{ status: number; body: Answer & ErrorBody }>>();
    for (let key = 0; key < 40; key++) {
      const res = await request<Answer & ErrorBody>(`${url}/v1/models/ctr:predict`, {
        body: { instances: [instance], routing_key: `user-${key}` },
      });
      const version = res.headers.get('x-model-version') ?? '?';
      groups.set(version, [...(groups.get(version) ?? []), { status: res.status, body: res.body }]);
    }
    return groups;
  }

  it('an instance with the new column: stable answers click_probability, the canary ctr_score', async () => {
    const groups = await byVersion(await validInstance({ ad_age_days: 14 }));
    assert.deepEqual([...groups.keys()].sort(), ['1', '2'], 'both versions were routed to');
    for (const answer of groups.get('1') ?? []) {
      assert.equal(answer.status, 200);
      assert.equal(typeof answer.body.predictions[0]?.click_probability, 'number');
    }
    for (const answer of groups.get('2') ?? []) {
      assert.equal(answer.status, 200);
      const score = answer.body.predictions[0]?.ctr_score;
      assert.ok(typeof score === 'number' && score > 0 && score < 1, `ctr_score ${String(score)}`);
      assert.equal(answer.body.predictions[0]?.click_probability, undefined);
    }
  });

  it('an instance without it: stable answers, the canary refuses with a 400 naming the column', async () => {
    const groups = await byVersion(await validInstance());
    for (const answer of groups.get('1') ?? []) assert.equal(answer.status, 200);
    const refused = groups.get('2') ?? [];
    assert.ok(refused.length > 0);
    for (const answer of refused) {
      assert.equal(answer.status, 400);
      assert.equal(answer.body.code, 'invalid_request');
      assert.match(answer.body.error, /instances\[0\] is missing "ad_age_days", a numeric column/);
    }
  });

  it("the canary refuses a value below its spec's min, naming the column", async () => {
    const groups = await byVersion(await validInstance({ ad_age_days: -1 }));
    for (const answer of groups.get('2') ?? []) {
      assert.equal(answer.status, 400);
      assert.match(answer.body.error, /ad_age_days must be >= 0/);
    }
  });

  it('metadata gives each version its signature: inputs by column and type, the output', async () => {
    const stable = await request<ModelMetadataResponse>(`${url}/v1/models/ctr/metadata`, { method: 'GET' });
    assert.equal(stable.status, 200);
    assert.equal(stable.body.model_spec.version, '1');
    const stableSignature = stable.body.metadata.signature_def.signature_def.serving_default;
    assert.deepEqual(Object.keys(stableSignature?.inputs ?? {}).sort(), [
      'advertiser',
      'category',
      'device',
      'headline_length',
      'hour',
      'image',
      'placement',
    ]);
    assert.equal(stableSignature?.inputs.hour?.dtype, 'DT_FLOAT');
    assert.equal(stableSignature?.inputs.device?.dtype, 'DT_STRING');
    assert.deepEqual(Object.keys(stableSignature?.outputs ?? {}), ['click_probability']);

    const canary = await request<ModelMetadataResponse>(`${url}/v1/models/ctr/versions/2/metadata`, {
      method: 'GET',
    });
    assert.equal(canary.status, 200);
    const canarySignature = canary.body.metadata.signature_def.signature_def.serving_default;
    assert.equal(canarySignature?.inputs.ad_age_days?.dtype, 'DT_FLOAT');
    assert.equal(canarySignature?.inputs.ad_age_days?.nullable, true);
    assert.deepEqual(Object.keys(canarySignature?.outputs ?? {}), ['ctr_score']);

    const missing = await request<ErrorBody>(`${url}/v1/models/ctr/versions/9/metadata`, { method: 'GET' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'version_not_loaded');
    const unknown = await request<ErrorBody>(`${url}/v1/models/nope/metadata`, { method: 'GET' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'model_not_found');
  });
});
