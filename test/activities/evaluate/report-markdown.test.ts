import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluationReportMarkdown } from '../../../activities/evaluate/report-markdown';
import type { EvaluationSummary } from '../../../contracts/evaluation';
import { evaluationSummary, MOBILE_SLICE } from './report-fixtures';

function summary(overrides: Partial<EvaluationSummary> = {}): EvaluationSummary {
  return evaluationSummary(
    [
      MOBILE_SLICE,
      {
        feature: 'device',
        value: 'tv|box',
        count: 4,
        clickRate: 0,
        candidate: { auc: null, logLoss: 0.1, accuracy: 1, ece: 0.1 },
        production: { auc: null, logLoss: 0.12, accuracy: 1, ece: 0.12 },
      },
      {
        feature: 'placement',
        value: 'sidebar',
        count: 300,
        clickRate: 0.1,
        candidate: { auc: 0.6, logLoss: 0.3, accuracy: 0.9, ece: 0.05 },
        production: { auc: 0.65, logLoss: 0.29, accuracy: 0.9, ece: 0.04 },
      },
    ],
    overrides,
  );
}

void describe('evaluationReportMarkdown', () => {
  void it('titles the report with the model and version when given', () => {
    const titled = evaluationReportMarkdown(summary(), { modelName: 'ctr', version: '7' });
    assert.match(titled, /^# Evaluation report: ctr v7\n/);
    assert.match(evaluationReportMarkdown(summary()), /^# Evaluation report\n/);
  });

  void it('compares every overall metric with production and its delta', () => {
    const markdown = evaluationReportMarkdown(summary());
    assert.match(markdown, /\| metric \| candidate \| production v6 \| Δ \|/);
    assert.match(markdown, /\| AUC \(higher is better\) \| 0\.7312 \| 0\.7101 \| \+0\.0211 \|/);
    assert.match(markdown, /\| log loss \(lower is better\) \| 0\.4521 \| 0\.4702 \| -0\.0181 \|/);
    assert.match(markdown, /\| accuracy at 0\.5 \| 0\.8100 \| 0\.8000 \| \+0\.0100 \|/);
    assert.match(markdown, /\| ECE, 10 bins \(lower is better\) \| 0\.0310 \| 0\.0450 \| -0\.0140 \|/);
    assert.match(markdown, /\| click rate \| 20\.00% \| 20\.00% \| \|/);
    assert.match(markdown, /\| rows \| 1000 \| 1000 \| \|/);
  });

  void it('has one table per slice feature, a dash for undefined AUC and a mark on regressions', () => {
    const markdown = evaluationReportMarkdown(summary());
    assert.match(markdown, /### By device\n/);
    assert.match(markdown, /### By placement\n/);
    assert.match(
      markdown,
      /\| mobile \| 600 \| 25\.00% \| 0\.7400 \| 0\.7000 \| \+0\.0400 \| 0\.5000 \| 0\.5200 \|/,
    );
    // The pipe inside a value is escaped, so the table keeps its columns.
    assert.match(markdown, /\| tv\\\|box \| 4 \| 0\.00% \| — \| — \| — \| 0\.1000 \| 0\.1200 \|/);
    assert.match(markdown, /\| ⚠ sidebar \| 300 \| 10\.00% \| 0\.6000 \| 0\.6500 \| -0\.0500 \|/);
    assert.match(markdown, /⚠ marks the 1 slice where/);
  });

  void it('states the blessing and lists failed thresholds', () => {
    assert.match(evaluationReportMarkdown(summary()), /\*\*Blessed\*\*/);
    const markdown = evaluationReportMarkdown(
      summary({ blessed: false, failures: ['AUC 0.5000 is below the minimum 0.6 (evaluate.minAuc)'] }),
    );
    assert.match(
      markdown,
      /\*\*Not blessed\*\*: the candidate fails these thresholds:\n- AUC 0\.5000 is below/,
    );
  });

  void it('says so when no production model was compared', () => {
    const { production: _, ...rest } = summary();
    const markdown = evaluationReportMarkdown({
      ...rest,
      slices: rest.slices.map(({ production: _p, ...slice }) => slice),
    });
    assert.match(markdown, /\| metric \| candidate \|\n/);
    assert.match(markdown, /No production model was compared/);
    assert.match(markdown, /\| value \| rows \| click rate \| AUC \| log loss \| accuracy \| ECE \|/);
    assert.doesNotMatch(markdown, /⚠/);
  });

  void it('puts the best possible AUC beside the candidate when the data has ground truth', () => {
    const markdown = evaluationReportMarkdown(
      summary({ bestPossible: { auc: 0.75, logLoss: 0.44, count: 980 } }),
    );
    assert.match(
      markdown,
      /\nBest possible AUC on these 980 rows \(the true click probabilities\): 0\.7500, log loss 0\.4400; the candidate's AUC 0\.7312 is 0\.0188 below it, 92% of the way from a coin flip\.\n/,
    );
    assert.doesNotMatch(evaluationReportMarkdown(summary()), /Best possible/);
  });

  void it('names the HTML page with the charts when there is one', () => {
    const markdown = evaluationReportMarkdown(
      summary({ reportHtmlUri: '/store/runs/w/r/evaluate/report.html' }),
    );
    assert.match(markdown, /With ROC and calibration charts: `\/store\/runs\/w\/r\/evaluate\/report\.html`/);
  });

  void it('is deterministic', () => {
    assert.equal(evaluationReportMarkdown(summary()), evaluationReportMarkdown(summary()));
  });
});
