import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import type { AdExample } from '../../../lib/dataset/schema';
import type { ShardChunk } from '../../../lib/dataset/shards';
import {
  createModel,
  fitPreprocessing,
  loadTfBackend,
  predictProbabilities,
  type ModelBundle,
} from '../../../lib/model/index';
import { scoreEvalSplit } from '../../../activities/evaluate/scores';
import { makeExamples } from '../../lib/model/fixtures';

const IMAGE_SIZE = 8;
const TRAIN = pipelineConfigSchema.parse({
  train: { conv: { filters: [2], denseUnits: 4 }, embeddingDim: 2 },
}).train;

/** Shards as lists of record batches, read from memory; counts the batches handed out. */
function memoryShards(shards: Record<string, AdExample[][]>) {
  let handedOut = 0;
  async function* read(uri: string): AsyncGenerator<ShardChunk> {
    for (const examples of shards[uri]!) {
      handedOut++;
      yield { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC, examples };
      await Promise.resolve();
    }
  }
  return { read, handedOut: () => handedOut };
}

void describe('scoreEvalSplit', () => {
  const examples = makeExamples(300, 7, IMAGE_SIZE);
  // Batches of 70: neither a multiple of the predict batch nor equal across shards.
  const batchesOf = (rows: AdExample[]) =>
    Array.from({ length: Math.ceil(rows.length / 70) }, (_, b) => rows.slice(b * 70, (b + 1) * 70));
  const shards = { a: batchesOf(examples.slice(0, 130)), b: batchesOf(examples.slice(130)) };
  let candidate: ModelBundle;
  let production: ModelBundle;

  before(async () => {
    await loadTfBackend();
    const preprocessing = fitPreprocessing(examples, IMAGE_SIZE, ADS_FEATURE_SPEC);
    candidate = { model: createModel({ ...TRAIN, seed: 1 }, preprocessing), preprocessing };
    production = { model: createModel({ ...TRAIN, seed: 2 }, preprocessing), preprocessing };
  });

  void it('keeps per row, in shard order, the scores predictProbabilities gives over all rows at once', async () => {
    const reader = memoryShards(shards);
    const scores = await scoreEvalSplit({
      shardUris: ['a', 'b'],
      candidate,
      production,
      sliceFeatures: ['device', 'placement'],
      read: reader.read,
    });
    assert.equal(scores.rows, 300);
    assert.deepEqual(scores.candidate, await predictProbabilities(candidate, examples));
    assert.deepEqual(scores.production, await predictProbabilities(production, examples));
    assert.deepEqual(
      scores.labels,
      Float64Array.from(examples, (example) => example.clicked),
    );
    assert.deepEqual(
      scores.adIds,
      examples.map((example) => example.ad_id),
    );
    assert.deepEqual(
      scores.sliceValues.device,
      examples.map((example) => example.device),
    );
    assert.deepEqual(
      scores.sliceValues.placement,
      examples.map((example) => example.placement),
    );
    assert.equal(scores.productionError, undefined);
  });

  void it('scores each record batch before reading more than the next one, leaving no tensors', async () => {
    const reader = memoryShards(shards);
    const baseline = tf.memory().numTensors;
    const progress: number[] = [];
    await scoreEvalSplit({
      shardUris: ['a', 'b'],
      candidate,
      production,
      sliceFeatures: ['device'],
      read: reader.read,
      onProgress: ({ rows }) => {
        // The batch just scored, plus at most the one prefetched behind it.
        assert.ok(reader.handedOut() - progress.length <= 2, `${reader.handedOut()} batches read`);
        progress.push(rows);
      },
    });
    assert.deepEqual(progress, [70, 130, 200, 270, 300]);
    assert.equal(tf.memory().numTensors, baseline);
  });

  void it('drops the production scores, keeping the candidate, when production fails on a batch', async () => {
    const reader = memoryShards(shards);
    const small = fitPreprocessing(examples, 4, ADS_FEATURE_SPEC);
    const other: ModelBundle = { model: createModel({ ...TRAIN, seed: 3 }, small), preprocessing: small };
    try {
      const scores = await scoreEvalSplit({
        shardUris: ['a', 'b'],
        candidate,
        production: other,
        sliceFeatures: ['device'],
        read: reader.read,
      });
      assert.equal(scores.production, undefined);
      assert.match(scores.productionError?.message ?? '', /expected 48/);
      assert.deepEqual(scores.candidate, await predictProbabilities(candidate, examples));
    } finally {
      other.model.dispose();
    }
  });

  void it('stops between batches once its signal is aborted', async () => {
    const reader = memoryShards(shards);
    const controller = new AbortController();
    await assert.rejects(
      scoreEvalSplit({
        shardUris: ['a', 'b'],
        candidate,
        sliceFeatures: ['device'],
        read: reader.read,
        signal: controller.signal,
        onProgress: ({ rows }) => {
          if (rows >= 130) controller.abort(new Error('cancelled'));
        },
      }),
      /cancelled/,
    );
    assert.ok(reader.handedOut() <= 4, `${reader.handedOut()} batches read`);
  });
});
