/**
 * The Open Inference Protocol (KServe v2): spoken to by its own Python client (tritonclient[http],
 * installed by scripts/dev/install-python-clients.sh), and its shapes and errors checked over HTTP.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../serving/errors';
import type { PredictResponse } from '../../serving/routes/predict';
import {
  createServingFixture,
  metricValue,
  pngBase64,
  request,
  validInstance,
  type ServingFixture,
} from './fixture';

const PYTHON_CLIENTS = path.resolve(__dirname, '../../.mlops/tools/python-clients');
const CLIENT_SCRIPT = path.join(__dirname, 'clients', 'oip_client.py');

interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: Array<{ name: string; datatype: string; shape: number[]; data: unknown[] }>;
}

describe('Open Inference Protocol', () => {
  let fixture: ServingFixture;
  let url: string;

  before(async () => {
    fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    const v2 = await fixture.saveVersion('2', 7);
    await fixture.deploy({
      revision: 1,
      stable: { version: '1', modelUri: v1 },
      canary: { version: '2', modelUri: v2, weight: 0 },
    });
    ({ url } = await fixture.start());
  });
  after(() => fixture.close());

  it('serves tritonclient, the protocol’s own HTTP client: health, metadata, infer by split and by version', async () => {
    assert.ok(
      fs.existsSync(path.join(PYTHON_CLIENTS, 'tritonclient')),
      `tritonclient is not installed in ${PYTHON_CLIENTS}: run bash scripts/dev/install-python-clients.sh`,
    );
    const { stdout } = await promisify(execFile)(
      'python3',
      [CLIENT_SCRIPT, new URL(url).host, 'ctr', '2', await pngBase64()],
      { env: { ...process.env, PYTHONPATH: PYTHON_CLIENTS }, timeout: 120_000 },
    );
    const seen = JSON.parse(stdout) as {
      live: boolean;
      ready: boolean;
      model_ready: boolean;
      missing_model_ready: boolean;
      server: { name: string; extensions: unknown[] };
      metadata: { name: string; versions: string[]; inputs: Array<{ name: string; datatype: string }> };
      split: { model_version: string; id: string; probabilities: number[]; prediction_ids: string[] };
      pinned: { model_version: string; probabilities: number[]; prediction_ids: string[] };
      mistyped: { status: string; message: string } | null;
    };
    assert.deepEqual(
      [seen.live, seen.ready, seen.model_ready, seen.missing_model_ready],
      [true, true, true, false],
    );
    assert.equal(seen.server.name, 'temporal-mlops');
    assert.deepEqual(seen.metadata.versions, ['1', '2']);
    assert.deepEqual(
      seen.metadata.inputs.map((input) => `${input.name}:${input.datatype}`),
      [
        'image:BYTES',
        'advertiser:BYTES',
        'category:BYTES',
        'placement:BYTES',
        'device:BYTES',
        'hour:FP32',
        'headline_length:FP32',
      ],
    );
    assert.equal(seen.split.model_version, '1');
    assert.equal(seen.split.id, 'req-7');
    assert.equal(seen.pinned.model_version, '2');
    assert.equal(seen.split.probabilities.length, 3);
    assert.equal(seen.split.prediction_ids.length, 3);

    // The same rows through the TF Serving route give the same probabilities, to float32 precision.
    const rows = [
      {
        advertiser: 'acme',
        category: 'shoes',
        placement: 'feed',
        device: 'mobile',
        hour: 13,
        headline_length: 42,
      },
      {
        advertiser: 'globex',
        category: 'travel',
        placement: 'sidebar',
        device: 'desktop',
        hour: 2,
        headline_length: 10,
      },
      {
        advertiser: 'acme',
        category: 'travel',
        placement: 'feed',
        device: 'mobile',
        hour: 23,
        headline_length: 80,
      },
    ];
    const image = { b64: await pngBase64() };
    for (const [version, got] of [
      ['1', seen.split.probabilities],
      ['2', seen.pinned.probabilities],
    ] as const) {
      const rest = await request<PredictResponse>(`${url}/v1/models/ctr/versions/${version}:predict`, {
        body: { instances: rows.map((row) => ({ ...row, image })) },
      });
      rest.body.predictions.forEach((prediction, i) =>
        assert.ok(Math.abs(prediction.click_probability - got[i]!) < 1e-6, `v${version} row ${i}`),
      );
    }
    assert.ok(seen.mistyped, 'a BYTES tensor for a numeric column should be refused');
    assert.equal(seen.mistyped.status, '400');
    assert.match(seen.mistyped.message, /input "hour" is BYTES, but hour is a numeric column/);
    // Counted apart from the canary split: tritonclient's versioned call and the REST one above.
    assert.equal(
      await metricValue(url, 'mlops_prediction_requests_total', {
        version: '2',
        role: 'pinned',
        outcome: 'success',
      }),
      2,
    );
  });

  it('answers infer with FP32 probabilities and BYTES ids, and refuses bad tensors with an error string', async () => {
    const row = await validInstance();
    const columns = Object.keys(row).filter((column) => column !== 'image_b64');
    const inputs = columns.map((name) => ({
      name,
      shape: [1],
      datatype: typeof row[name] === 'number' ? 'INT64' : 'BYTES',
      data: [row[name]],
    }));
    inputs.push({ name: 'image', shape: [1, 1], datatype: 'BYTES', data: [[row.image_b64]] });
    const good = await request<InferResponse>(`${url}/v2/models/ctr/infer`, { body: { inputs } });
    assert.equal(good.status, 200, JSON.stringify(good.body));
    assert.deepEqual(
      good.body.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })),
      [
        { name: 'click_probability', datatype: 'FP32', shape: [1, 1] },
        { name: 'prediction_id', datatype: 'BYTES', shape: [1, 1] },
      ],
    );
    assert.equal(good.body.model_name, 'ctr');

    const bad: Array<[unknown, number, RegExp]> = [
      [
        { inputs: inputs.map((input) => (input.name === 'hour' ? { ...input, shape: [2] } : input)) },
        400,
        /input "hour" has shape \[2\]/,
      ],
      [{ inputs: inputs.filter((input) => input.name !== 'device') }, 400, /missing "device"/],
      [{ inputs, outputs: [{ name: 'logits' }] }, 400, /unknown output "logits"/],
      [{ inputs: [{ name: 'hour', datatype: 'FP32', data: [1] }] }, 400, /shape/],
      [
        { inputs: inputs.map((input) => (input.name === 'hour' ? { ...input, datatype: 'BOOL' } : input)) },
        400,
        /input "hour" is BOOL/,
      ],
    ];
    for (const [body, status, reason] of bad) {
      const answer = await request<ErrorBody>(`${url}/v2/models/ctr/infer`, { body });
      assert.equal(answer.status, status, JSON.stringify(body).slice(0, 200));
      assert.equal(typeof answer.body.error, 'string');
      assert.match(answer.body.error, reason);
    }
    const unknown = await request<ErrorBody>(`${url}/v2/models/ctr/versions/9/infer`, { body: { inputs } });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /version 9 of model ctr is not loaded here/);
    const binary = await request<ErrorBody>(`${url}/v2/models/ctr/infer`, {
      body: { inputs },
      headers: { 'inference-header-content-length': '10' },
    });
    assert.equal(binary.status, 400);
    assert.match(binary.body.error, /binary tensor data is not supported/);
  });
});
