import fs from 'node:fs/promises';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { ActivityDeps } from '../../../activities/deps';
import { MAX_SLICE_VALUES, type EvaluateInput } from '../../../activities/evaluate/evaluate';
import type { EvaluationSummary } from '../../../contracts/evaluation';
import { readShard, SHARD_BATCH_ROWS, writeShard } from '../../../lib/dataset/shards';
import type { AdExample } from '../../../lib/dataset/schema';
import type { EvaluationReportData } from '../../../activities/evaluate/report-markdown';
import {
  computeBinaryMetrics,
  computeCalibrationBins,
  computeRocCurve,
  type BinaryMetrics,
} from '../../../lib/model/metrics';
import { disposeModel, loadModelBundle, loadTfBackend, predictProbabilities } from '../../../lib/model/index';
import { IMAGE_SIZE, runEvaluateModel, saveUntrainedModel } from './evaluate-fixtures';

const DEVICES = ['mobile', 'desktop', 'tablet'];
const PLACEMENTS = ['feed', 'sidebar', 'search', 'story'];
// Shard sizes that are not multiples of the record batch (512) nor of the predict batch (256), so
// batch boundaries of the streamed pass differ from those of an in-memory pass over all rows.
const SHARD_SIZES = [700, 300, 1100];

function makeRows(count: number, offset: number): AdExample[] {
  return Array.from({ length: count }, (_, j) => {
    const i = j + offset;
    return {
      ad_id: `ad-${i}`,
      clicked: (i * 7919) % 13 < 4 ? 1 : 0,
      pixels: Uint8Array.from({ length: IMAGE_SIZE * IMAGE_SIZE * 3 }, (_, k) => (i * 31 + k * 17) % 256),
      advertiser: `advertiser-${i % 5}`,
      category: i % 3 ? 'shoes' : 'hats',
      placement: PLACEMENTS[(i * 3) % PLACEMENTS.length]!,
      device: DEVICES[i % DEVICES.length]!,
      hour: i % 24,
      headline_length: 10 + (i % 40),
    };
  });
}

let store: string;
let deps: ActivityDeps;
let shardUris: string[];
let candidateUri: string;
let productionUri: string;
let dataDir: string;

function evaluate(
  input: EvaluateInput,
  workflowId: string,
  onHeartbeat?: (details: unknown) => void,
): Promise<EvaluationSummary> {
  return runEvaluateModel(deps, input, workflowId, onHeartbeat);
}

function saveModel(name: string, seed: number, examples: AdExample[], imageSize: number): Promise<string> {
  return saveUntrainedModel(store, name, seed, examples, imageSize);
}

/**
 * The report as evaluation computed it before it streamed: every shard read whole, each model
 * scored over all rows at once, metrics from those arrays.
 */
async function inMemoryReport(
  truth: Map<string, number>,
): Promise<Omit<EvaluationReportData, `report${string}`>> {
  const examples: AdExample[] = [];
  for (const uri of shardUris) examples.push(...((await readShard(uri)).examples as AdExample[]));
  const score = async (uri: string) => {
    const bundle = await loadModelBundle(uri);
    try {
      return await predictProbabilities(bundle, examples);
    } finally {
      disposeModel(bundle.model);
    }
  };
  const candidate = await score(candidateUri);
  const production = await score(productionUri);
  const labels = Float64Array.from(examples, (example) => example.clicked);
  const overall = (m: BinaryMetrics) => ({ ...m, auc: m.auc! });
  const metricsOf = ({ auc, logLoss, accuracy, ece }: BinaryMetrics) => ({ auc, logLoss, accuracy, ece });
  const slices = ADS_FEATURE_SPEC.slices.flatMap((feature) => {
    const column = feature as 'device' | 'placement';
    const values = [...new Set(examples.map((example) => example[column]))];
    const rowsOf = (value: string) =>
      examples.flatMap((example, i) => (example[column] === value ? [i] : []));
    return values
      .map((value) => ({ value, rows: rowsOf(value) }))
      .sort((a, b) => b.rows.length - a.rows.length || (a.value < b.value ? -1 : 1))
      .slice(0, MAX_SLICE_VALUES)
      .map(({ value, rows }) => {
        const sliceLabels = rows.map((i) => labels[i]!);
        const c = computeBinaryMetrics(
          sliceLabels,
          rows.map((i) => candidate[i]!),
        );
        const p = computeBinaryMetrics(
          sliceLabels,
          rows.map((i) => production[i]!),
        );
        return {
          feature,
          value,
          count: rows.length,
          clickRate: c.clickRate,
          candidate: metricsOf(c),
          production: metricsOf(p),
        };
      });
  });
  const known = examples.flatMap((example, i) => (truth.has(example.ad_id) ? [i] : []));
  const knownLabels = known.map((i) => labels[i]!);
  const trueScores = known.map((i) => truth.get(examples[i]!.ad_id)!);
  const best = computeBinaryMetrics(knownLabels, trueScores);
  return {
    candidate: overall(computeBinaryMetrics(labels, candidate)),
    production: { ...overall(computeBinaryMetrics(labels, production)), version: '7' },
    slices,
    bestPossible: { auc: best.auc!, logLoss: best.logLoss, count: known.length },
    blessed: true,
    failures: [],
    failedThresholds: [],
    curves: {
      candidate: {
        roc: computeRocCurve(labels, candidate),
        calibration: computeCalibrationBins(labels, candidate),
      },
      production: {
        roc: computeRocCurve(labels, production),
        calibration: computeCalibrationBins(labels, production),
      },
      bestPossible: { roc: computeRocCurve(knownLabels, trueScores) },
    },
  };
}

// Thresholds nothing fails, so the comparison is about metrics only.
const LENIENT = {
  minAuc: 0,
  maxAucDropVsProduction: 1,
  maxLogLossIncreaseVsProduction: 100,
  maxEceIncreaseVsProduction: 1,
};

void describe('evaluateModel over a split of several shards and record batches', () => {
  let truth: Map<string, number>;

  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-evaluate-streaming-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
    await loadTfBackend();
    const shards = SHARD_SIZES.map((size, s) =>
      makeRows(
        size,
        SHARD_SIZES.slice(0, s).reduce((a, b) => a + b, 0),
      ),
    );
    const all = shards.flat();
    shardUris = [];
    for (const [s, rows] of shards.entries()) {
      const uri = path.join(store, `eval-${s}.arrow`);
      await writeShard(uri, rows, { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC });
      shardUris.push(uri);
    }
    const trainLike = all.filter((_, i) => i % 2 === 0);
    candidateUri = await saveModel('candidate', 1, trainLike, IMAGE_SIZE);
    productionUri = await saveModel('production', 2, trainLike, IMAGE_SIZE);
    // Ground truth for all but every tenth eval row, plus an ad the split does not hold.
    dataDir = path.join(store, 'data');
    await fs.mkdir(dataDir, { recursive: true });
    truth = new Map(
      all.filter((_, i) => i % 10 !== 3).map((example, i) => [example.ad_id, ((i * 37) % 100) / 100]),
    );
    const lines = [...truth].map(([id, p]) => `${id},${p}`);
    await fs.writeFile(
      path.join(dataDir, 'ground_truth.csv'),
      ['ad_id,click_probability', ...lines, 'ad-train-only,0.5', ''].join('\n'),
    );
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('reports exactly the metrics, slices and curves of scoring every row in memory', async () => {
    const result = await evaluate(
      {
        candidateModelUri: candidateUri,
        evalUri: shardUris[0]!,
        evalUris: shardUris,
        production: { version: '7', modelUri: productionUri },
        thresholds: LENIENT,
        dataUri: dataDir,
      },
      'streaming-equals-in-memory',
    );
    const { reportUri, reportMarkdownUri, reportHtmlUri, featureSpec, ...report } = JSON.parse(
      await fs.readFile(result.reportUri, 'utf8'),
    ) as EvaluationReportData;
    assert.deepEqual(
      { reportUri, reportMarkdownUri, reportHtmlUri },
      {
        reportUri: result.reportUri,
        reportMarkdownUri: result.reportMarkdownUri,
        reportHtmlUri: result.reportHtmlUri,
      },
    );
    assert.deepEqual(report, await inMemoryReport(truth));
    // Both models were trained on the same spec.
    assert.deepEqual(featureSpec, { productionVersion: '7', changes: [] });
    assert.equal(result.candidate.count, 2100);
  });

  void it('heartbeats after every record batch with the rows scored so far', async () => {
    const beats: unknown[] = [];
    await evaluate(
      { candidateModelUri: candidateUri, evalUri: shardUris[0]!, evalUris: shardUris, thresholds: LENIENT },
      'heartbeats',
      (details) => beats.push(details),
    );
    const batches = SHARD_SIZES.flatMap((size) =>
      Array.from({ length: Math.ceil(size / SHARD_BATCH_ROWS) }, (_, b) =>
        Math.min(SHARD_BATCH_ROWS, size - b * SHARD_BATCH_ROWS),
      ),
    );
    assert.equal(beats.length, batches.length);
    assert.deepEqual(beats.at(-1), { rows: 2100, shard: 2, shards: 3 });
    assert.deepEqual(
      beats.map((beat) => (beat as { rows: number }).rows),
      batches.map((_, b) => batches.slice(0, b + 1).reduce((a, c) => a + c, 0)),
    );
  });

  void it('evaluates without production, and frees both models, when production cannot score the rows', async () => {
    // A production model trained on another image size fails on the first batch of this split.
    const otherSize = makeRows(20, 0).map((example) => ({ ...example, pixels: new Uint8Array(4 * 4 * 3) }));
    const mismatched = await saveModel('production-4px', 3, otherSize, 4);
    const baseline = tf.memory().numTensors;
    const result = await evaluate(
      {
        candidateModelUri: candidateUri,
        evalUri: shardUris[0]!,
        evalUris: shardUris,
        production: { version: '2', modelUri: mismatched },
        thresholds: LENIENT,
      },
      'production-fails-mid-stream',
    );
    assert.equal(result.production, undefined);
    assert.equal(result.candidate.count, 2100);
    assert.ok(result.slices.every((slice) => slice.production === undefined));
    const report = JSON.parse(await fs.readFile(result.reportUri, 'utf8')) as EvaluationReportData;
    assert.equal(report.curves.production, undefined);
    assert.equal(tf.memory().numTensors, baseline);
  });

  void it('frees both models when a shard after the first cannot be read', async () => {
    const baseline = tf.memory().numTensors;
    await assert.rejects(
      evaluate(
        {
          candidateModelUri: candidateUri,
          evalUri: shardUris[0]!,
          evalUris: [shardUris[0]!, path.join(store, 'missing.arrow')],
          production: { version: '7', modelUri: productionUri },
          thresholds: LENIENT,
        },
        'missing-second-shard',
      ),
      /missing\.arrow/,
    );
    assert.equal(tf.memory().numTensors, baseline);
  });
});
