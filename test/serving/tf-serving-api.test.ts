/**
 * TensorFlow Serving's REST API where it applies: a version or a label named in the path (outside
 * the canary split, counted as `pinned`), the columnar `inputs` form, `signature_name`, the
 * per-version status, and errors as an `error` string beside our `code`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../serving/errors';
import type { ColumnarPredictResponse, PredictResponse } from '../../serving/routes/predict';
import type { ModelStatusResponse } from '../../serving/routes/model-status';
import { createServingFixture, metricValue, request, validInstance, type ServingFixture } from './fixture';

describe('TensorFlow Serving REST API', () => {
  let fixture: ServingFixture;
  let url: string;
  const predict = <T = PredictResponse>(path: string, body: unknown) =>
    request<T & ErrorBody>(`${url}/v1/models/ctr${path}:predict`, { body });

  before(async () => {
    fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    const v2 = await fixture.saveVersion('2', 7);
    // The canary is loaded but takes no traffic: only a request that names it reaches it.
    await fixture.deploy({
      revision: 3,
      stable: { version: '1', modelUri: v1 },
      canary: { version: '2', modelUri: v2, weight: 0 },
    });
    ({ url } = await fixture.start());
  });
  after(() => fixture.close());

  it('answers a version or a label named in the path from that version, counted as pinned', async () => {
    const body = { instances: [await validInstance()] };
    const split = await predict('', body);
    assert.equal(split.body.model_version, '1');
    for (const [path, version] of [
      ['/versions/2', '2'],
      ['/versions/1', '1'],
      ['/labels/canary', '2'],
      ['/labels/production', '1'],
    ] as const) {
      const answer = await predict(path, body);
      assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.model_version, version, path);
      assert.equal(answer.headers.get('x-model-version'), version, path);
    }
    // Two models with different weights give different probabilities: the version really served it.
    const [one, two] = await Promise.all([predict('/versions/1', body), predict('/versions/2', body)]);
    assert.notEqual(one.body.predictions[0]!.click_probability, two.body.predictions[0]!.click_probability);

    const counted = (version: string, role: string) =>
      metricValue(url, 'mlops_prediction_requests_total', {
        model: 'ctr',
        version,
        role,
        outcome: 'success',
      });
    assert.equal(await counted('2', 'pinned'), 3);
    assert.equal(await counted('2', 'canary'), 0);
    assert.equal(await counted('1', 'stable'), 1);
    assert.equal(await counted('1', 'pinned'), 3);
  });

  it('answers 404 naming the version or label that is not served', async () => {
    const body = { instances: [await validInstance()] };
    const cases = [
      ['/versions/9', 'version_not_loaded', /version 9 of model ctr is not loaded here/],
      ['/labels/previous', 'version_not_loaded', /no previous production version/],
      ['/labels/staging', 'label_not_found', /labels are production, canary, previous/],
    ] as const;
    for (const [path, code, reason] of cases) {
      const answer = await predict(path, body);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.body.code, code, path);
      assert.match(answer.body.error, reason, path);
    }
    const otherModel = await request<ErrorBody>(`${url}/v1/models/nope/versions/1:predict`, { body });
    assert.equal(otherModel.status, 404);
    assert.equal(otherModel.body.code, 'model_not_found');
  });

  it('reads the columnar form and answers it in columns, equal to the row form', async () => {
    const rows = [
      await validInstance(),
      await validInstance({ hour: 2, device: 'desktop', advertiser: 'globex' }),
    ];
    const inputs = Object.fromEntries(
      Object.keys(rows[0]!).map((column) => [column, rows.map((row) => row[column])]),
    );
    const columnar = await predict<ColumnarPredictResponse>('/versions/1', {
      inputs,
      signature_name: 'serving_default',
    });
    assert.equal(columnar.status, 200, JSON.stringify(columnar.body));
    const byRows = await predict('/versions/1', { instances: rows });
    assert.deepEqual(
      columnar.body.outputs.click_probability,
      byRows.body.predictions.map((prediction) => prediction.click_probability),
    );
    assert.equal(columnar.body.outputs.prediction_id!.length, 2);
    assert.equal(columnar.body.model_version, '1');
  });

  it('refuses uneven columns, both forms or neither, and a signature it does not serve', async () => {
    const row = await validInstance();
    const uneven = Object.fromEntries(Object.entries(row).map(([column, value]) => [column, [value]]));
    uneven.hour = [1, 2];
    const cases: Array<[unknown, RegExp]> = [
      [{ inputs: uneven }, /inputs\.hour has 2 values where inputs\.advertiser has 1/],
      [{ instances: [row], inputs: { hour: [1] } }, /either "instances".*or "inputs".*not both/],
      [{}, /needs "instances".*or "inputs"/],
      [{ instances: [row], signature_name: 'predict_v2' }, /signature_name "predict_v2" is not served here/],
      [{ inputs: { hour: 3 } }, /body\.inputs\.hour must be array/],
    ];
    for (const [body, reason] of cases) {
      const answer = await predict('', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.code, 'invalid_request');
      assert.match(answer.body.error, reason);
    }
  });

  it('reports one version in the status shape, and 404 for one not loaded', async () => {
    const status = await request<ModelStatusResponse>(`${url}/v1/models/ctr/versions/2`);
    assert.equal(status.status, 200);
    assert.deepEqual(status.body.model_version_status, [
      {
        version: '2',
        state: 'AVAILABLE',
        role: 'canary',
        weight: 0,
        status: { error_code: 'OK', error_message: '' },
      },
    ]);
    assert.equal(status.body.deployment_revision, 3);
    const missing = await request<ErrorBody>(`${url}/v1/models/ctr/versions/9`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'version_not_loaded');
  });
});
