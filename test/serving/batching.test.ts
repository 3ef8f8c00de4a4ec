import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadModelBundle, type ModelBundle } from '../../lib/model';
import { MicroBatcher } from '../../serving/batcher';
import type { ErrorBody } from '../../serving/errors';
import { LoadedVersion } from '../../serving/loaded-version';
import { createPredictionMetrics } from '../../serving/metrics';
import type { PredictResponse } from '../../serving/routes/predict';
import { IMAGE_SIZE, createServingFixture, request, validInstance, type ServingFixture } from './fixture';

/** Counts the model's forward passes and can make the next one fail. */
interface CallSpy {
  calls: number;
  failNext: boolean;
}

function spyingLoader(spy: CallSpy): (uri: string) => Promise<ModelBundle> {
  return async (uri) => {
    const bundle = await loadModelBundle(uri);
    const predict = bundle.model.predict.bind(bundle.model);
    bundle.model.predict = (...args: Parameters<typeof predict>) => {
      spy.calls += 1;
      if (spy.failNext) {
        spy.failNext = false;
        throw new Error('simulated kernel failure');
      }
      return predict(...args);
    };
    return bundle;
  };
}

const DEVICES = ['mobile', 'desktop', 'tablet'];

const INPUT = {
  advertiser: 'acme',
  category: 'shoes',
  placement: 'feed',
  device: 'mobile',
  hour: 3,
  headline_length: 30,
  pixels: new Uint8Array(IMAGE_SIZE * IMAGE_SIZE * 3).fill(90),
};

/** Request bodies of one to three distinct instances each. */
async function distinctBodies(count: number): Promise<Array<{ instances: Record<string, unknown>[] }>> {
  return Promise.all(
    Array.from({ length: count }, async (_, r) => ({
      instances: await Promise.all(
        Array.from({ length: (r % 3) + 1 }, (_, i) =>
          validInstance({
            hour: (r * 5 + i) % 24,
            headline_length: 10 + r * 3 + i,
            device: DEVICES[(r + i) % DEVICES.length],
            advertiser: r % 2 === 0 ? 'acme' : 'globex',
          }),
        ),
      ),
    })),
  );
}

describe('micro-batching', () => {
  let fixture: ServingFixture;

  before(async () => {
    fixture = await createServingFixture();
    const modelUri = await fixture.saveVersion('1');
    await fixture.deploy({ revision: 1, stable: { version: '1', modelUri } });
  });
  after(() => fixture.close());

  it('answers concurrent requests with fewer model calls and the same probabilities as unbatched', async () => {
    const direct = await fixture.start({ logPredictions: false });
    const spy: CallSpy = { calls: 0, failNext: false };
    const batched = await fixture.start({
      logPredictions: false,
      batching: { maxBatchSize: 16, maxWaitMs: 50 },
      loadBundle: spyingLoader(spy),
    });
    const bodies = await distinctBodies(24);
    const expected = await Promise.all(
      bodies.map((body) => request<PredictResponse>(`${direct.url}/v1/models/ctr:predict`, { body })),
    );
    const callsAfterWarmUp = spy.calls;
    const answers = await Promise.all(
      bodies.map((body) => request<PredictResponse>(`${batched.url}/v1/models/ctr:predict`, { body })),
    );
    const modelCalls = spy.calls - callsAfterWarmUp;
    assert.ok(modelCalls < bodies.length / 2, `${modelCalls} model calls for ${bodies.length} requests`);
    answers.forEach((answer, r) => {
      assert.equal(answer.status, 200);
      const want = expected[r]?.body.predictions.map((p) => p.click_probability) ?? [];
      const got = answer.body.predictions.map((p) => p.click_probability);
      assert.equal(got.length, want.length, `request ${r} got ${got.length} predictions`);
      got.forEach((p, i) => assert.ok(Math.abs(p - (want[i] ?? NaN)) < 1e-6, `request ${r}[${i}]: ${p}`));
    });
    const metrics = await request<string>(`${batched.url}/metrics`);
    assert.match(metrics.body, new RegExp(`mlops_prediction_batch_size_count\\{[^}]*\\} ${modelCalls}\\b`));
  });

  it('waits at most maxWaitMs for a batch to fill, and no longer once it is full', async () => {
    const lone = await fixture.start({
      logPredictions: false,
      batching: { maxBatchSize: 64, maxWaitMs: 300 },
    });
    const body = { instances: [await validInstance()] };
    let started = performance.now();
    assert.equal((await request(`${lone.url}/v1/models/ctr:predict`, { body })).status, 200);
    const loneMs = performance.now() - started;
    assert.ok(loneMs >= 290 && loneMs < 2000, `a lone request took ${loneMs} ms`);

    const full = await fixture.start({
      logPredictions: false,
      batching: { maxBatchSize: 4, maxWaitMs: 10_000 },
    });
    started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => request(`${full.url}/v1/models/ctr:predict`, { body })),
    );
    const fullMs = performance.now() - started;
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 200, 200],
    );
    assert.ok(fullMs < 5000, `a full batch took ${fullMs} ms`);
  });

  it('runs queued batches at once when the server stops, so draining does not wait out maxWaitMs', async () => {
    const { url, server } = await fixture.start({
      logPredictions: false,
      batching: { maxBatchSize: 64, maxWaitMs: 30_000 },
    });
    const body = { instances: [await validInstance()] };
    const inFlight = Array.from({ length: 3 }, () => request(`${url}/v1/models/ctr:predict`, { body }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    await server.stop();
    const answers = await Promise.all(inFlight);
    assert.ok(performance.now() - started < 5000);
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [200, 200, 200],
    );
  });

  it('fails only the requests of a batch whose model call fails, with a 500', async () => {
    const spy: CallSpy = { calls: 0, failNext: false };
    const { url } = await fixture.start({
      logPredictions: false,
      batching: { maxBatchSize: 3, maxWaitMs: 200 },
      loadBundle: spyingLoader(spy),
    });
    const body = { instances: [await validInstance()] };
    const send = () => request<ErrorBody>(`${url}/v1/models/ctr:predict`, { body });
    spy.failNext = true;
    const failed = await Promise.all([send(), send(), send()]);
    const next = await Promise.all([send(), send(), send()]);
    assert.deepEqual(
      failed.map((answer) => answer.status),
      [500, 500, 500],
    );
    assert.equal(failed[0]?.body.code, 'prediction_failed');
    assert.doesNotMatch(failed[0]?.body.error ?? '', /simulated/);
    assert.deepEqual(
      next.map((answer) => answer.status),
      [200, 200, 200],
    );
  });

  it('with maxWaitMs 0, batches the requests that are ready in the same event-loop turn', async () => {
    const modelUri = await fixture.saveVersion('8');
    const loaded = new LoadedVersion('ctr', '8', modelUri, await loadModelBundle(modelUri));
    const metrics = createPredictionMetrics();
    const batcher = new MicroBatcher({ maxBatchSize: 8, maxWaitMs: 0 }, metrics, { error: () => undefined });
    const results = await Promise.all([1, 2, 3].map(() => batcher.predict(loaded, [INPUT])));
    assert.deepEqual(
      results.map((r) => r.length),
      [1, 1, 1],
    );
    const batches = (await metrics.batchSize.get()).values.find((v) => v.metricName?.endsWith('_count'));
    assert.equal(batches?.value, 1);
    loaded.retire();
  });

  it('keeps a retired version loaded while a batch that uses it is queued', async () => {
    const modelUri = await fixture.saveVersion('9');
    const loaded = new LoadedVersion('ctr', '9', modelUri, await loadModelBundle(modelUri));
    const batcher = new MicroBatcher({ maxBatchSize: 8, maxWaitMs: 100 }, createPredictionMetrics(), {
      error: () => undefined,
    });
    const pending = batcher.predict(loaded, [INPUT, INPUT]);
    loaded.retire();
    assert.equal(loaded.isDisposed, false);
    const probabilities = await pending;
    assert.equal(probabilities.length, 2);
    assert.ok(Number.isFinite(probabilities[0]));
    assert.equal(loaded.isDisposed, true);
  });
});
