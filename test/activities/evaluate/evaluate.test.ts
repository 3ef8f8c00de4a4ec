import fs from 'node:fs/promises';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from '../../../activities/deps';
import { computeSlices, MAX_SLICE_VALUES, type EvaluateInput } from '../../../activities/evaluate/evaluate';
import type { EvaluationSummary } from '../../../contracts/evaluation';
import { writeShard } from '../../../lib/dataset/shards';
import type { AdExample } from '../../../lib/dataset/schema';
import type { EvaluationReportData } from '../../../activities/evaluate/report-markdown';
import { computeAuc, computeBinaryMetrics, computeLogLoss } from '../../../lib/model/metrics';
import { disposeModel, loadModelBundle, loadTfBackend, predictProbabilities } from '../../../lib/model/index';
import { CONFIG, IMAGE_SIZE, runEvaluateModel, saveUntrainedModel } from './evaluate-fixtures';

// Thresholds nothing fails, so tests about metrics are not about blessing.
const LENIENT = {
  ...CONFIG.evaluate,
  minAuc: 0,
  maxAucDropVsProduction: 1,
  maxLogLossIncreaseVsProduction: 100,
  maxEceIncreaseVsProduction: 1,
};

const DEVICES = ['mobile', 'mobile', 'mobile', 'desktop', 'desktop', 'tablet'];
const PLACEMENTS = ['feed', 'sidebar', 'search'];

// 36 rows: mobile 18, desktop 12, tablet 6 (tablet never clicked, so its AUC is undefined).
const examples: AdExample[] = Array.from({ length: 36 }, (_, i) => {
  const device = DEVICES[i % DEVICES.length]!;
  return {
    ad_id: `ad-${i}`,
    clicked: device === 'tablet' ? 0 : (i >> 1) % 2,
    pixels: new Uint8Array(IMAGE_SIZE * IMAGE_SIZE * 3).fill((i * 37) % 256),
    advertiser: i % 2 ? 'acme' : 'globex',
    category: 'shoes',
    placement: PLACEMENTS[i % PLACEMENTS.length]!,
    device,
    hour: i % 24,
    headline_length: 10 + i,
  };
});

let store: string;
let candidateUri: string;
let productionUri: string;
let evalUri: string;
let deps: ActivityDeps;

function evaluate(input: EvaluateInput, workflowId = 'evaluate-test'): Promise<EvaluationSummary> {
  return runEvaluateModel(deps, input, workflowId);
}

function saveModel(name: string, seed: number): Promise<string> {
  return saveUntrainedModel(store, name, seed, examples);
}

async function scores(modelUri: string): Promise<Float32Array> {
  const bundle = await loadModelBundle(modelUri);
  try {
    return await predictProbabilities(bundle, examples);
  } finally {
    disposeModel(bundle.model);
  }
}

void describe('evaluateModel activity', () => {
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-evaluate-store-'));
    deps = { storeUri: store, servingUrls: [], adminToken: 'test' };
    await loadTfBackend();
    candidateUri = await saveModel('candidate', 1);
    productionUri = await saveModel('production', 2);
    evalUri = path.join(store, 'eval.arrow');
    await writeShard(evalUri, examples, { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC });
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('computes overall metrics of both models from their scores', async () => {
    const result = await evaluate(
      {
        candidateModelUri: candidateUri,
        evalUri,
        production: { version: '3', modelUri: productionUri },
        thresholds: LENIENT,
      },
      'overall',
    );
    const labels = examples.map((example) => example.clicked);
    const expectedCandidate = computeBinaryMetrics(labels, await scores(candidateUri));
    const expectedProduction = computeBinaryMetrics(labels, await scores(productionUri));
    assert.deepEqual(result.candidate, expectedCandidate);
    assert.deepEqual(result.production, { ...expectedProduction, version: '3' });
    assert.equal(result.candidate.clickRate, labels.filter((label) => label === 1).length / 36);
    assert.equal(result.blessed, true);
    assert.deepEqual(result.failures, []);
  });

  void it('reports slices by device and placement, largest first, with null AUC for one-label slices', async () => {
    const result = await evaluate(
      {
        candidateModelUri: candidateUri,
        evalUri,
        production: { version: '3', modelUri: productionUri },
        thresholds: LENIENT,
      },
      'slices',
    );
    assert.deepEqual(
      result.slices.map((slice) => [slice.feature, slice.value, slice.count]),
      [
        ['device', 'mobile', 18],
        ['device', 'desktop', 12],
        ['device', 'tablet', 6],
        ['placement', 'feed', 12],
        ['placement', 'search', 12],
        ['placement', 'sidebar', 12],
      ],
    );
    const tablet = result.slices.find((slice) => slice.value === 'tablet')!;
    assert.equal(tablet.candidate.auc, null);
    assert.equal(tablet.production?.auc, null);
    assert.equal(tablet.clickRate, 0);

    const rows = examples.flatMap((example, i) => (example.device === 'desktop' ? [i] : []));
    const candidateScores = await scores(candidateUri);
    const expected = computeBinaryMetrics(
      rows.map((i) => examples[i]!.clicked),
      rows.map((i) => candidateScores[i]!),
    );
    const desktop = result.slices.find((slice) => slice.value === 'desktop')!;
    assert.deepEqual(desktop.candidate, {
      auc: expected.auc,
      logLoss: expected.logLoss,
      accuracy: expected.accuracy,
      ece: expected.ece,
    });
    assert.equal(desktop.clickRate, expected.clickRate);
  });

  void it('writes report.json, report.md and report.html in the evaluate stage folder', async () => {
    const result = await evaluate(
      {
        candidateModelUri: candidateUri,
        evalUri,
        production: { version: '3', modelUri: productionUri },
        thresholds: LENIENT,
        modelName: 'ctr',
      },
      'report-files',
    );
    const stage = path.join(store, 'runs', 'report-files', 'run', 'evaluate');
    assert.equal(result.reportUri, path.join(stage, 'report.json'));
    assert.equal(result.reportMarkdownUri, path.join(stage, 'report.md'));
    assert.equal(result.reportHtmlUri, path.join(stage, 'report.html'));
    const markdown = await fs.readFile(result.reportMarkdownUri, 'utf8');
    assert.match(markdown, /^# Evaluation report: ctr\n/);
    assert.match(markdown, /### By device/);
    assert.match(markdown, /\| tablet \| 6 \| 0\.00% \| — \|/);
    const html = await fs.readFile(result.reportHtmlUri, 'utf8');
    assert.match(html, /<title>Evaluation report: ctr<\/title>/);
    assert.equal((html.match(/<svg[\s>]/g) ?? []).length, 2);

    // report.json holds the summary and the curves; the result, which lands in history, only the summary.
    const { curves, ...summary } = JSON.parse(
      await fs.readFile(result.reportUri, 'utf8'),
    ) as EvaluationReportData;
    assert.deepEqual(summary, result);
    assert.equal('curves' in result, false);
    assert.equal(curves.candidate.roc[0]?.fpr, 0);
    assert.equal(curves.candidate.roc.at(-1)?.tpr, 1);
    assert.equal(curves.candidate.calibration.length, 10);
    assert.ok(curves.production);
    assert.ok(Buffer.byteLength(JSON.stringify(result)) < 8_000, 'the result stays small');
  });

  void it('reuses the report of an earlier attempt instead of scoring again', async () => {
    const candidateCopy = await saveModel('candidate-once', 1);
    const input: EvaluateInput = { candidateModelUri: candidateCopy, evalUri, thresholds: LENIENT };
    const first = await evaluate(input, 'retry');
    // Were the retry to score again, the missing model would fail it.
    await fs.rm(candidateCopy, { recursive: true });
    const second = await evaluate(input, 'retry');
    assert.deepEqual(second, first);
  });

  void it('evaluates again over a report.json written before report.html existed', async () => {
    const stage = path.join(store, 'runs', 'older-report', 'run', 'evaluate');
    await fs.mkdir(stage, { recursive: true });
    await fs.writeFile(
      path.join(stage, 'report.json'),
      JSON.stringify({
        candidate: { auc: 0.5, logLoss: 0.7, count: 36 },
        slices: [],
        blessed: true,
        failures: [],
        reportUri: path.join(stage, 'report.json'),
        reportMarkdownUri: path.join(stage, 'report.md'),
      }),
    );
    const result = await evaluate(
      { candidateModelUri: candidateUri, evalUri, thresholds: LENIENT },
      'older-report',
    );
    assert.equal(result.reportHtmlUri, path.join(stage, 'report.html'));
    assert.ok(result.slices.length > 0);
    assert.match(await fs.readFile(result.reportHtmlUri, 'utf8'), /<svg/);
  });

  void it('evaluates without production when the production model cannot be scored', async () => {
    const result = await evaluate(
      {
        candidateModelUri: candidateUri,
        evalUri,
        production: { version: '2', modelUri: path.join(store, 'deleted-model') },
        thresholds: LENIENT,
      },
      'no-production',
    );
    assert.equal(result.production, undefined);
    assert.ok(result.slices.length > 0);
    assert.ok(result.slices.every((slice) => slice.production === undefined));
  });

  void it('explains a failed blessing by threshold', async () => {
    const result = await evaluate(
      { candidateModelUri: candidateUri, evalUri, thresholds: { ...LENIENT, minAuc: 1.01 } },
      'not-blessed',
    );
    assert.equal(result.blessed, false);
    assert.match(
      result.failures[0]!,
      /AUC 0\.\d{4} is below the minimum 1\.01 by 0\.\d{4} \(evaluate\.minAuc\)/,
    );
    assert.equal(result.failedThresholds?.[0]?.configKey, 'evaluate.minAuc');
    const markdown = await fs.readFile(result.reportMarkdownUri, 'utf8');
    assert.match(markdown, /\*\*Not blessed\*\*: the candidate fails these thresholds:\n- AUC /);
  });

  void it('lists every failed threshold, those against production with both values', async () => {
    const result = await evaluate(
      {
        candidateModelUri: candidateUri,
        evalUri,
        production: { version: '3', modelUri: productionUri },
        thresholds: {
          minAuc: 1.01,
          maxLogLoss: 0.01,
          maxEce: 0,
          maxAucDropVsProduction: 0,
          maxLogLossIncreaseVsProduction: 0,
          maxEceIncreaseVsProduction: 0,
        },
      },
      'not-blessed-all',
    );
    const keys = result.failedThresholds!.map((failure) => failure.configKey);
    assert.deepEqual(keys.slice(0, 3), ['evaluate.minAuc', 'evaluate.maxLogLoss', 'evaluate.maxEce']);
    assert.deepEqual(
      result.failures,
      result.failedThresholds!.map((failure) => failure.message),
    );
    // Two models with different seeds differ; the candidate is worse than production on some of them.
    for (const failure of result.failedThresholds!.slice(3)) {
      assert.equal(failure.production, result.production![failure.metric]);
      assert.match(failure.message, /production v3 \(0\.\d{4}\): 0\.\d+ more than the allowed/);
    }
  });

  void it('gives settings a running pipeline predates their defaults', async () => {
    const result = await evaluate(
      {
        candidateModelUri: candidateUri,
        evalUri,
        production: { version: '3', modelUri: productionUri },
        thresholds: { minAuc: 0, maxAucDropVsProduction: 1 },
      },
      'older-config',
    );
    // Only the defaults of the change thresholds on log loss and ECE can have failed here.
    for (const failure of result.failedThresholds!) {
      assert.match(failure.configKey, /^evaluate\.max(LogLoss|Ece)IncreaseVsProduction$/);
      assert.equal(failure.threshold, failure.metric === 'ece' ? 0.05 : 0.02);
    }
  });

  void it('reports the AUC of the true click probabilities when ground_truth.csv lies beside ads.csv', async () => {
    const dataDir = path.join(store, 'dataset-with-truth');
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(path.join(dataDir, 'ads.csv'), 'not read by evaluation\n');
    // Every eval row, in another order, plus ads that are not in the eval split.
    const truth = examples.map((example, i) => [example.ad_id, ((i * 7) % 36) / 40 + example.clicked * 0.05]);
    const lines = [...truth].reverse().map(([id, p]) => `${id},${(p as number).toFixed(6)}`);
    await fs.writeFile(
      path.join(dataDir, 'ground_truth.csv'),
      ['ad_id,click_probability', ...lines, 'ad-train-1,0.500000', ''].join('\n'),
    );
    const labels = examples.map((example) => example.clicked);
    const probabilities = truth.map(([, p]) => Number((p as number).toFixed(6)));
    const expected = {
      auc: computeAuc(labels, probabilities),
      logLoss: computeLogLoss(labels, probabilities),
      count: 36,
    };

    for (const dataUri of [dataDir, path.join(dataDir, 'ads.csv')]) {
      const result = await evaluate(
        { candidateModelUri: candidateUri, evalUri, thresholds: LENIENT, dataUri, modelName: 'ctr' },
        `ground-truth-${dataUri.endsWith('.csv') ? 'csv' : 'dir'}`,
      );
      assert.deepEqual(result.bestPossible, expected);
      const markdown = await fs.readFile(result.reportMarkdownUri, 'utf8');
      assert.match(markdown, /Best possible AUC on these 36 rows \(the true click probabilities\): 0\.\d{4}/);
      const html = await fs.readFile(result.reportHtmlUri!, 'utf8');
      assert.match(html, /true probabilities \(best possible\)/);
      const report = JSON.parse(await fs.readFile(result.reportUri, 'utf8')) as EvaluationReportData;
      assert.ok(report.curves.bestPossible!.roc.length > 2);
    }
  });

  void it('leaves the best possible out without ground truth, or with a broken one', async () => {
    const plain = path.join(store, 'dataset-without-truth');
    await fs.mkdir(plain, { recursive: true });
    const broken = path.join(store, 'dataset-broken-truth');
    await fs.mkdir(broken, { recursive: true });
    await fs.writeFile(path.join(broken, 'ground_truth.csv'), 'ad_id,probability\nad-0,0.5\n');
    const outOfRange = path.join(store, 'dataset-out-of-range-truth');
    await fs.mkdir(outOfRange, { recursive: true });
    await fs.writeFile(path.join(outOfRange, 'ground_truth.csv'), 'ad_id,click_probability\nad-0,1.5\n');
    for (const [name, dataUri] of [
      ['none', undefined],
      ['absent', plain],
      ['broken', broken],
      ['out-of-range', outOfRange],
    ] as const) {
      const result = await evaluate(
        { candidateModelUri: candidateUri, evalUri, thresholds: LENIENT, ...(dataUri ? { dataUri } : {}) },
        `no-truth-${name}`,
      );
      assert.equal('bestPossible' in result, false, name);
      assert.doesNotMatch(await fs.readFile(result.reportMarkdownUri, 'utf8'), /Best possible/, name);
    }
  });

  void it('fails without retry when the eval split has a single class', async () => {
    const oneClass = path.join(store, 'one-class.arrow');
    await writeShard(
      oneClass,
      examples.map((example) => ({ ...example, clicked: 0 })),
      { imageSize: IMAGE_SIZE, spec: ADS_FEATURE_SPEC },
    );
    await assert.rejects(
      evaluate({ candidateModelUri: candidateUri, evalUri: oneClass, thresholds: LENIENT }, 'one-class'),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.nonRetryable &&
        /0 positive and 36 negative rows; AUC needs both/.test(err.message),
    );
  });

  void it('leaks no model when the eval shard cannot be read', async () => {
    const baseline = tf.memory().numTensors;
    await assert.rejects(
      evaluate(
        {
          candidateModelUri: candidateUri,
          evalUri: path.join(store, 'missing.arrow'),
          thresholds: CONFIG.evaluate,
        },
        'missing-shard',
      ),
    );
    // A model load started alongside the shard read would still be finishing; give it time to.
    await sleep(300);
    assert.equal(tf.memory().numTensors, baseline);
  });
});

void describe('computeSlices', () => {
  const columnsOf = (rows: readonly { device: string; placement: string }[]) => ({
    device: rows.map((row) => row.device),
    placement: rows.map((row) => row.placement),
  });

  void it(`keeps the ${MAX_SLICE_VALUES} largest values per feature, ties by name`, () => {
    // Placement p00 … p24 where p<k> has k + 1 rows; every row on one device.
    const rows = Array.from({ length: 25 }, (_, k) =>
      Array.from({ length: k + 1 }, () => ({
        device: 'mobile',
        placement: `p${String(k).padStart(2, '0')}`,
      })),
    ).flat();
    rows.push({ device: 'desktop', placement: 'p24' });
    const labels = Float64Array.from(rows, (_, i) => i % 2);
    const candidate = Float64Array.from(rows, (_, i) => (i % 3) / 3);
    const slices = computeSlices(columnsOf(rows), labels, candidate);
    const placements = slices.filter((slice) => slice.feature === 'placement');
    assert.equal(placements.length, MAX_SLICE_VALUES);
    assert.deepEqual(
      placements.slice(0, 3).map((slice) => [slice.value, slice.count]),
      [
        ['p24', 26],
        ['p23', 24],
        ['p22', 23],
      ],
    );
    assert.equal(placements.at(-1)!.value, 'p05');
    assert.deepEqual(
      slices.filter((slice) => slice.feature === 'device').map((slice) => slice.value),
      ['mobile', 'desktop'],
    );
    assert.ok(slices.every((slice) => slice.production === undefined));
  });

  void it('orders equal counts by value so the result is deterministic', () => {
    const rows = ['b', 'a', 'c'].map((placement) => ({ device: 'mobile', placement }));
    const slices = computeSlices(
      columnsOf(rows),
      Float64Array.from([0, 1, 0]),
      [0.2, 0.8, 0.4],
      [0.5, 0.5, 0.5],
    );
    assert.deepEqual(
      slices.filter((slice) => slice.feature === 'placement').map((slice) => slice.value),
      ['a', 'b', 'c'],
    );
    assert.equal(slices[0]!.candidate.auc, 1);
    assert.equal(slices[0]!.production?.auc, 0.5);
  });
});
