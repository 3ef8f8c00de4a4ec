/**
 * The shadow step on a real Temporal dev server, under simulated traffic with click feedback: a
 * candidate identical to production passes its shadow and is promoted; a candidate trained on
 * flipped labels is caught in shadow, and no user request was ever served by it.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { pipelineConfigSchema, type PipelineConfigInput } from '../../contracts/pipeline-config';
import { deploymentWorkflowId, rolloutStatusQuery, type RolloutResult } from '../../contracts/temporal';
import { writeFlippedLabelDataset } from '../../lib/dataset/flipped-labels';
import { ModelRegistry } from '../../lib/registry';
import { loadGroundTruth, startFeedbackSender, type FeedbackSender } from '../../lib/traffic/feedback-sender';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import { startTraffic, type RunningTraffic } from '../../lib/traffic/simulated-traffic';
import { startPipeline } from '../../scripts/clients/pipeline-client';
import { metricValue } from '../serving/fixture';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  TINY_PIPELINE_CONFIG,
  type PipelineEnv,
} from '../helpers/pipeline-env';
import { makeTinyDataset, type TinyDataset } from '../helpers/tiny-dataset';
import { registerIdenticalCandidate, startCanaryRollout } from '../helpers/identical-candidate';

/** A short shadow: two seconds and 20 mirrored requests, then labels enough to show the log loss no worse. */
const SHADOW = { seconds: 2, minRequests: 20, percent: 100, maxScoreShift: 0.5 };
const CONFIG: PipelineConfigInput = {
  ...TINY_PIPELINE_CONFIG,
  rollout: { ...TINY_PIPELINE_CONFIG.rollout, shadow: SHADOW, maxWaitSeconds: 120 },
};

void describe('the shadow step before the canary', { timeout: 600_000 }, () => {
  let env: PipelineEnv;
  let dataset: TinyDataset;
  let flippedDir: string;
  let traffic: RunningTraffic;
  let feedback: FeedbackSender;

  before(async () => {
    [env, dataset] = await Promise.all([startPipelineEnv(), makeTinyDataset({ rows: 120, seed: 2 })]);
    flippedDir = `${dataset.dir}-flipped`;
    await writeFlippedLabelDataset(dataset.dir, flippedDir);
    const first = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: dataset.dir,
      featureSpecUri: await adsSpecFile(),
      config: CONFIG,
      approvalRequired: false,
      taskQueue: TEST_CONTROL_QUEUE,
    });
    await first.result();
    feedback = startFeedbackSender({
      baseUrl: env.servingUrl,
      groundTruth: await loadGroundTruth(dataset.dir),
      delayMs: 200,
    });
    traffic = startTraffic({
      baseUrl: env.servingUrl,
      model: TEST_MODEL,
      samples: await loadTrafficSamples(dataset.dir, 120),
      rate: 40,
      feedback,
    });
  });
  after(async () => {
    await traffic?.stop();
    await feedback?.stop();
    await env?.close();
    await dataset?.close();
    if (flippedDir) await fs.rm(flippedDir, { recursive: true, force: true });
  });

  it('passes a candidate identical to production on paired evidence, then canaries and promotes it', async () => {
    const copy = await registerIdenticalCandidate(env.storeUri, 'e2e-shadow');
    const handle = await startCanaryRollout(env.client, copy, pipelineConfigSchema.parse(CONFIG).rollout);
    const result = (await handle.result()) as RolloutResult;
    assert.equal(result.outcome, 'promoted');
    const { shadow } = await handle.query(rolloutStatusQuery);
    assert.ok(shadow, 'the rollout has a shadow comparison');
    assert.equal(shadow.verdict, 'pass', shadow.reason);
    assert.ok(shadow.requests >= SHADOW.minRequests && shadow.errors === 0, JSON.stringify(shadow));
    // The same weights score the same instances alike: every paired difference is 0.
    assert.ok(shadow.pairs >= shadow.requests);
    assert.equal(shadow.meanScoreShift, 0);
    assert.ok(shadow.feedback >= 30, `${shadow.feedback} labels joined to both sides`);
    assert.equal(shadow.meanLogLossDifference, 0);
  });

  it('catches a candidate trained on flipped labels in shadow: no user was served by it', async () => {
    const handle = await startPipeline(env.client, {
      modelName: TEST_MODEL,
      dataUri: flippedDir,
      featureSpecUri: await adsSpecFile(),
      config: { ...CONFIG, train: { ...CONFIG.train, epochs: 8, learningRate: 0.02 } },
      approvalRequired: false,
      taskQueue: TEST_CONTROL_QUEUE,
    });
    const failure = await handle.result().then(
      () => assert.fail('the flipped-label candidate must not reach production'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match(
      String(failure.cause?.message),
      /failed in shadow \(no user was served by it\): (online log loss|score distribution): shadow − stable on the same \d+ (labels|instances)/,
    );
    const status = await env.client.workflow
      .getHandle(deploymentWorkflowId(TEST_MODEL))
      .query(rolloutStatusQuery);
    assert.equal(status.shadow?.verdict, 'fail');
    assert.equal(status.comparisons.length, 0, 'no canary step ran');
    const version = status.shadow.shadowVersion;
    // Every request the server answered for that version was a copy in shadow, none a user's.
    for (const role of ['canary', 'stable'])
      assert.equal(
        await metricValue(env.servingUrl, 'mlops_prediction_requests_total', {
          version,
          role,
          outcome: 'success',
        }),
        0,
      );
    assert.ok(
      (await metricValue(env.servingUrl, 'mlops_shadow_requests_total', { version, outcome: 'success' })) > 0,
    );
    const record = await new ModelRegistry(env.storeUri).getVersion(TEST_MODEL, version);
    assert.equal(record?.status, 'rolled-back');
  });
});
