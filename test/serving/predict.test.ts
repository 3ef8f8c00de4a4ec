import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../serving/errors';
import type { ModelStatusResponse } from '../../serving/routes/model-status';
import type { PredictResponse } from '../../serving/routes/predict';
import { createServingFixture, pngBase64, request, validInstance, type ServingFixture } from './fixture';

describe('prediction API', () => {
  let fixture: ServingFixture;
  let url: string;
  let predictUrl: string;
  let imageDir: string;

  before(async () => {
    fixture = await createServingFixture();
    const modelUri = await fixture.saveVersion('3');
    await fixture.deploy({ revision: 7, stable: { version: '3', modelUri } });
    imageDir = path.join(fixture.storeUri, 'images');
    await fs.mkdir(imageDir);
    await fs.writeFile(path.join(imageDir, 'ad.png'), Buffer.from(await pngBase64(), 'base64'));
    ({ url } = await fixture.start({ models: ['ctr', 'other'], imageUriRoots: [imageDir] }));
    predictUrl = `${url}/v1/models/ctr:predict`;
  });
  after(() => fixture.close());

  it('answers probabilities in (0, 1) with the model version and a request id', async () => {
    const res = await request<PredictResponse>(predictUrl, {
      body: { instances: [await validInstance(), await validInstance({ device: 'never-seen' })] },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.model_version, '3');
    assert.equal(res.headers.get('x-model-version'), '3');
    assert.match(res.headers.get('x-request-id') ?? '', /^[\w-]{8,}$/);
    assert.equal(res.body.predictions.length, 2);
    for (const prediction of res.body.predictions) {
      assert.ok(prediction.click_probability > 0 && prediction.click_probability < 1);
      assert.match(prediction.prediction_id, /^[\w-]{40,}$/);
    }
    assert.notEqual(res.body.predictions[0]?.prediction_id, res.body.predictions[1]?.prediction_id);
  });

  it('keeps a caller-supplied request id', async () => {
    const res = await request(predictUrl, {
      body: { instances: [await validInstance()] },
      headers: { 'x-request-id': 'trace-123' },
    });
    assert.equal(res.headers.get('x-request-id'), 'trace-123');
  });

  it('takes the image column as {"b64": …} or a URI, answering as the older image_b64 field does', async () => {
    const b64 = await pngBase64();
    const imagePath = path.join(imageDir, 'ad.png');
    const res = await request<PredictResponse>(predictUrl, {
      body: {
        instances: [
          await validInstance({ image_b64: b64 }),
          await validInstance({ image_b64: undefined, image: { b64 } }),
          await validInstance({ image_b64: undefined, image: imagePath }),
        ],
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [legacy, inline, byUri] = res.body.predictions.map((p) => p.click_probability);
    assert.equal(inline, legacy);
    assert.equal(byUri, legacy);
  });

  it('reads image_uri under an allowed root and refuses paths outside it', async () => {
    const inside = await request<PredictResponse>(predictUrl, {
      body: {
        instances: [await validInstance({ image_b64: undefined, image_uri: path.join(imageDir, 'ad.png') })],
      },
    });
    assert.equal(inside.status, 200);
    const outside = await request<ErrorBody>(predictUrl, {
      body: {
        instances: [
          await validInstance({ image_b64: undefined, image_uri: path.join(imageDir, '../x.png') }),
        ],
      },
    });
    assert.equal(outside.status, 400);
    assert.equal(outside.body.code, 'image_uri_not_allowed');
    const missing = await request<ErrorBody>(predictUrl, {
      body: {
        instances: [await validInstance({ image_b64: undefined, image_uri: path.join(imageDir, 'no.png') })],
      },
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, 'image_not_found');
  });

  describe('rejects every malformed request with a 4xx and a reason', () => {
    const cases: Array<{ name: string; status: number; code: string; reason: RegExp; send: () => unknown }> =
      [
        {
          name: 'no body',
          status: 400,
          code: 'invalid_request',
          reason: /body must be object/,
          send: () => undefined,
        },
        {
          name: 'invalid JSON',
          status: 400,
          code: 'invalid_json',
          reason: /not valid JSON/,
          send: () => '{"instances": [',
        },
        {
          name: 'missing instances',
          status: 400,
          code: 'invalid_request',
          reason: /instances/,
          send: () => ({}),
        },
        {
          name: 'empty instances',
          status: 400,
          code: 'invalid_request',
          reason: /body\.instances must NOT have fewer than 1/,
          send: () => ({ instances: [] }),
        },
        {
          name: 'instances not an array',
          status: 400,
          code: 'invalid_request',
          reason: /body\.instances must be array/,
          send: () => ({ instances: 'x' }),
        },
        {
          name: 'too many instances',
          status: 400,
          code: 'invalid_request',
          reason: /more than 256/,
          send: () => ({ instances: Array.from({ length: 257 }, () => ({})) }),
        },
        {
          name: 'missing field',
          status: 400,
          code: 'invalid_request',
          reason:
            /body\.instances\[0\] is missing "device", a categorical column of the model's feature spec/,
          send: async () => ({ instances: [await validInstance({ device: undefined })] }),
        },
        {
          name: 'hour as string',
          status: 400,
          code: 'invalid_request',
          reason: /body\.instances\[0\]\.hour must be a number/,
          send: async () => ({ instances: [await validInstance({ hour: '5' })] }),
        },
        {
          name: 'hour out of range',
          status: 400,
          code: 'invalid_request',
          reason: /hour must be <= 23/,
          send: async () => ({ instances: [await validInstance({ hour: 24 })] }),
        },
        {
          name: 'headline_length above the spec max',
          status: 400,
          code: 'invalid_request',
          reason: /headline_length must be <= 1000, the feature spec's max/,
          send: async () => ({ instances: [await validInstance({ headline_length: 1001 })] }),
        },
        {
          name: 'advertiser as a boolean',
          status: 400,
          code: 'invalid_request',
          reason: /advertiser must be string/,
          send: async () => ({ instances: [await validInstance({ advertiser: true })] }),
        },
        {
          name: 'a required categorical blank',
          status: 400,
          code: 'invalid_request',
          reason: /instances\[0\]\.device is blank but the feature spec says it is required/,
          send: async () => ({ instances: [await validInstance({ device: '   ' })] }),
        },
        {
          name: 'an image column that is neither {b64} nor a URI',
          status: 400,
          code: 'invalid_request',
          reason: /instances\[0\]\.image must be \{"b64"/,
          send: async () => ({ instances: [await validInstance({ image_b64: undefined, image: 42 })] }),
        },
        {
          name: 'no image',
          status: 400,
          code: 'invalid_request',
          reason: /instances\[0\] is missing "image", the image column of the model's feature spec/,
          send: async () => ({ instances: [await validInstance({ image_b64: undefined })] }),
        },
        {
          name: 'bad base64',
          status: 400,
          code: 'invalid_image',
          reason: /instances\[1\]\.image_b64 is not valid base64/,
          send: async () => ({
            instances: [await validInstance(), await validInstance({ image_b64: 'not*base64!' })],
          }),
        },
        {
          name: 'bad base64 in the image column, named as sent',
          status: 400,
          code: 'invalid_image',
          reason: /instances\[0\]\.image\.b64 is not valid base64/,
          send: async () => ({
            instances: [await validInstance({ image_b64: undefined, image: { b64: 'not*base64!' } })],
          }),
        },
        {
          name: 'an SVG image, which sharp would render',
          status: 400,
          code: 'invalid_image',
          reason: /instances\[0\]: not a PNG, JPEG or WebP image: the file looks an SVG/,
          send: async () => ({
            instances: [
              await validInstance({
                image_b64: Buffer.from(
                  '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>',
                ).toString('base64'),
              }),
            ],
          }),
        },
        {
          name: 'non-image bytes',
          status: 400,
          code: 'invalid_image',
          reason: /instances\[0\]: not a PNG, JPEG or WebP image/,
          send: async () => ({
            instances: [
              await validInstance({ image_b64: Buffer.from('hello, not a png').toString('base64') }),
            ],
          }),
        },
        {
          name: 'image_uri when not allowed (relative path)',
          status: 400,
          code: 'image_uri_not_allowed',
          reason: /outside the allowed image roots/,
          send: async () => ({
            instances: [await validInstance({ image_b64: undefined, image_uri: '/etc/passwd' })],
          }),
        },
      ];
    for (const testCase of cases) {
      it(`${testCase.name} → ${testCase.status} ${testCase.code}`, async () => {
        const payload = await testCase.send();
        const res = await request<ErrorBody>(predictUrl, {
          method: 'POST',
          body: payload,
          headers: typeof payload === 'string' ? { 'content-type': 'application/json' } : {},
        });
        assert.equal(res.status, testCase.status, JSON.stringify(res.body));
        assert.equal(res.body.code, testCase.code);
        assert.match(res.body.error, testCase.reason);
      });
    }

    it('too large a body → 413 payload_too_large', async () => {
      const big = 'A'.repeat(17 * 1024 * 1024);
      const res = await request<ErrorBody>(predictUrl, {
        body: { instances: [await validInstance({ image_b64: big })] },
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.code, 'payload_too_large');
    });

    it('an unsupported content type → 415', async () => {
      const res = await request<ErrorBody>(predictUrl, {
        body: '<xml/>',
        headers: { 'content-type': 'application/xml' },
      });
      assert.equal(res.status, 415);
      assert.equal(res.body.code, 'unsupported_media_type');
    });

    it('an unknown model → 404 model_not_found', async () => {
      const res = await request<ErrorBody>(`${url}/v1/models/nope:predict`, {
        body: { instances: [await validInstance()] },
      });
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'model_not_found');
    });

    it('an unknown route or verb → 404 route_not_found', async () => {
      const res = await request<ErrorBody>(`${url}/v1/models/ctr:explain`, { body: { instances: [] } });
      assert.equal(res.status, 404);
      assert.equal(res.body.code, 'route_not_found');
    });
  });

  it('answers 503 model_not_deployed for a configured model without a deployment', async () => {
    const res = await request<ErrorBody>(`${url}/v1/models/other:predict`, {
      body: { instances: [await validInstance()] },
    });
    assert.equal(res.status, 503);
    assert.equal(res.body.code, 'model_not_deployed');
  });

  it('reports version status in TensorFlow Serving shape', async () => {
    const res = await request<ModelStatusResponse>(`${url}/v1/models/ctr`);
    assert.equal(res.status, 200);
    assert.equal(res.body.deployment_revision, 7);
    assert.deepEqual(res.body.model_version_status, [
      {
        version: '3',
        state: 'AVAILABLE',
        role: 'stable',
        weight: 100,
        status: { error_code: 'OK', error_message: '' },
      },
    ]);
    const unknown = await request<ErrorBody>(`${url}/v1/models/nope`);
    assert.equal(unknown.status, 404);
  });

  it('answers health, readiness and Prometheus metrics', async () => {
    assert.equal((await request(`${url}/healthz`)).status, 200);
    const ready = await request<{ status: string; revisions: Record<string, number | null> }>(
      `${url}/readyz`,
    );
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.revisions, { ctr: 7, other: null });
    const metrics = await request<string>(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(
      metrics.body,
      /mlops_prediction_requests_total\{model="ctr",version="3",role="stable",outcome="success"\} \d+/,
    );
    assert.match(
      metrics.body,
      /mlops_prediction_latency_seconds_bucket\{le="0.001",model="ctr",version="3",role="stable"\}/,
    );
    assert.match(metrics.body, /process_cpu_user_seconds_total/);
  });
});
