import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calibrationChartSpec, rocChartSpec } from '../../../activities/evaluate/charts';
import { escapeHtml, evaluationReportHtml } from '../../../activities/evaluate/report-html';
import type { EvaluationReportData } from '../../../activities/evaluate/report-markdown';
import { computeCalibrationBins, computeRocCurve } from '../../../lib/model/metrics';
import { evaluationSummary, MOBILE_SLICE } from './report-fixtures';

const LABELS = [0, 0, 1, 1, 0, 1, 0, 0, 1, 0];
const CANDIDATE_SCORES = [0.1, 0.4, 0.35, 0.8, 0.2, 0.7, 0.3, 0.15, 0.9, 0.5];
const PRODUCTION_SCORES = [0.2, 0.3, 0.3, 0.6, 0.4, 0.5, 0.35, 0.1, 0.6, 0.45];

function report(overrides: Partial<EvaluationReportData> = {}): EvaluationReportData {
  return {
    ...evaluationSummary(
      [
        MOBILE_SLICE,
        {
          feature: 'placement',
          value: '<script>alert(1)</script>',
          count: 300,
          clickRate: 0.1,
          candidate: { auc: 0.6, logLoss: 0.3, accuracy: 0.9, ece: 0.05 },
          production: { auc: 0.65, logLoss: 0.29, accuracy: 0.9, ece: 0.04 },
        },
      ],
      {
        bestPossible: { auc: 0.7843, logLoss: 0.4102, count: 1000 },
        failedThresholds: [],
        reportHtmlUri: '/store/runs/w/r/evaluate/report.html',
      },
    ),
    curves: {
      candidate: {
        roc: computeRocCurve(LABELS, CANDIDATE_SCORES),
        calibration: computeCalibrationBins(LABELS, CANDIDATE_SCORES),
      },
      production: {
        roc: computeRocCurve(LABELS, PRODUCTION_SCORES),
        calibration: computeCalibrationBins(LABELS, PRODUCTION_SCORES),
      },
      bestPossible: {
        roc: computeRocCurve(
          LABELS,
          LABELS.map((y) => 0.3 + y * 0.4),
        ),
      },
    },
    ...overrides,
  };
}

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;

void describe('evaluation report charts', () => {
  void it('draws candidate, production and the best possible on the ROC chart, in fixed colours', () => {
    const spec = rocChartSpec(report().curves, '6') as {
      layer: { data: { values: { series: string }[] } }[];
    };
    const series = new Set(spec.layer[1]!.data.values.map((row) => row.series));
    assert.deepEqual([...series], ['candidate', 'production v6', 'true probabilities (best possible)']);
  });

  void it('plots only the calibration bins that hold examples', () => {
    const curves = report().curves;
    const spec = calibrationChartSpec(curves, '6') as { layer: { data: { values: unknown[] } }[] };
    const filled = (bins: { count: number }[]) => bins.filter((bin) => bin.count > 0).length;
    assert.equal(
      spec.layer[1]!.data.values.length,
      filled(curves.candidate.calibration) + filled(curves.production!.calibration),
    );
  });
});

void describe('evaluationReportHtml', () => {
  void it('is one self-contained page with two SVG charts and no script', async () => {
    const html = await evaluationReportHtml(report(), { modelName: 'ctr', version: '7' });
    assert.match(html, /^<!doctype html>\n<html lang="en">/);
    assert.match(html, /<title>Evaluation report: ctr v7<\/title>/);
    assert.equal(count(html, /<svg[\s>]/g), 2);
    assert.match(html, /ROC curve/);
    assert.match(html, /Calibration \(reliability\)/);
    assert.doesNotMatch(html, /<script|src=|href="http/i);
  });

  void it('has the overall table with production, deltas and the best possible', async () => {
    const html = await evaluationReportHtml(report());
    assert.match(
      html,
      /<tr><th>metric<\/th><th>candidate<\/th><th>production v6<\/th><th>Δ<\/th><th>best possible<\/th><\/tr>/,
    );
    assert.match(
      html,
      /<tr><td>AUC \(higher is better\)<\/td><td>0\.7312<\/td><td>0\.7101<\/td><td>\+0\.0211<\/td><td>0\.7843<\/td><\/tr>/,
    );
    assert.match(html, /Best possible AUC on these 1000 rows \(the true click probabilities\): 0\.7843/);
  });

  void it('has a table per slice feature, regressions marked and data escaped', async () => {
    const html = await evaluationReportHtml(report());
    assert.match(html, /<h3>By device<\/h3>/);
    assert.match(html, /<h3>By placement<\/h3>/);
    assert.match(
      html,
      /<td>mobile<\/td><td>600<\/td><td>25\.00%<\/td><td>0\.7400<\/td><td>0\.7000<\/td><td>\+0\.0400<\/td>/,
    );
    assert.match(html, /<td>⚠ &#60;script&#62;alert\(1\)&#60;\/script&#62;<\/td>/);
    assert.equal(count(html, /<table/g), 3);
  });

  void it('states a failed blessing with every failed threshold and its setting', async () => {
    const message =
      'AUC 0.6850 is 0.0150 below production v6 (0.7000): 0.0050 more than the allowed drop of 0.01 (evaluate.maxAucDropVsProduction)';
    const html = await evaluationReportHtml(
      report({
        blessed: false,
        failures: [message],
        failedThresholds: [
          {
            metric: 'auc',
            kind: 'vsProduction',
            configKey: 'evaluate.maxAucDropVsProduction',
            threshold: 0.01,
            candidate: 0.685,
            production: 0.7,
            productionVersion: '6',
            excess: 0.005,
            message,
          },
        ],
      }),
    );
    assert.match(html, /<strong>Not blessed<\/strong>/);
    assert.ok(html.includes(`<li>${escapeHtml(message)}</li>`));
    assert.match(
      html,
      /<td>auc<\/td><td>change vs production 0\.01<\/td><td>evaluate\.maxAucDropVsProduction<\/td><td>0\.6850<\/td><td>0\.7000 \(v6\)<\/td><td>0\.0050<\/td>/,
    );
  });

  void it("lists the candidate's feature spec changes against production, escaped, or says there are none", async () => {
    const html = await evaluationReportHtml(
      report({
        featureSpec: {
          productionVersion: '6',
          changes: [
            { subject: '<b>ad_age</b>', change: 'added', detail: 'numeric' },
            { subject: 'output', change: 'changed', detail: '"probability" → "score"' },
          ],
        },
      }),
    );
    assert.match(html, /<h2>Feature spec vs production v6<\/h2>/);
    assert.ok(
      html.includes(`<li>added <b>${escapeHtml('<b>ad_age</b>')}</b>: numeric (clients must send it)</li>`),
    );
    assert.ok(html.includes('(clients read the probability under the new name)'));
    const same = await evaluationReportHtml(report({ featureSpec: { productionVersion: '6', changes: [] } }));
    assert.ok(same.includes("<p>Feature spec: the same as production v6's.</p>"));
    assert.doesNotMatch(await evaluationReportHtml(report()), /Feature spec/);
  });

  void it('draws the candidate alone when there is no production and no ground truth', async () => {
    const { production: _p, bestPossible: _b, ...rest } = report();
    const html = await evaluationReportHtml({
      ...rest,
      slices: [],
      curves: { candidate: rest.curves.candidate },
    });
    assert.equal(count(html, /<svg[\s>]/g), 2);
    assert.match(html, /No production model was compared/);
    assert.doesNotMatch(html, /best possible|production v/);
    assert.match(html, /<strong>Blessed<\/strong>/);
  });

  void it('is deterministic', async () => {
    assert.equal(await evaluationReportHtml(report()), await evaluationReportHtml(report()));
  });
});
