/**
 * The evaluation report as one self-contained HTML page (report.html): ROC and calibration charts
 * drawn by Vega-Lite and inlined as SVG (no script, no network, works offline), the overall and
 * per-slice tables, the best possible AUC and the blessing with its failures.
 */
import { featureSpecChangeConsequence } from '../../contracts/feature-spec-diff';
import {
  isSliceRegression,
  SLICE_AUC_REGRESSION,
  type SliceComparison,
  type ThresholdFailure,
} from '../../contracts/evaluation';
import { bestPossibleSentence, formatMetric } from '../../contracts/metric-catalog';
import { calibrationChartSpec, renderChartSvg, rocChartSpec } from './charts';
import { overallTableText, sliceTableText } from './report-tables';
import type { EvaluationReportData, EvaluationReportOptions } from './report-markdown';

/** Escapes text for HTML element content and double-quoted attributes. */
/** The candidate's spec against production's, when there was a production model to compare with. */
function featureSpecSection(report: EvaluationReportData): string {
  const comparison = report.featureSpec;
  if (!comparison) return '';
  const against = `production v${comparison.productionVersion}`;
  if (comparison.changes.length === 0) {
    return `<p>Feature spec: the same as ${escapeHtml(against)}'s.</p>`;
  }
  const items = comparison.changes.map(
    (change) =>
      `<li>${escapeHtml(change.change)} <b>${escapeHtml(change.subject)}</b>: ${escapeHtml(change.detail)}` +
      `${escapeHtml(featureSpecChangeConsequence(change))}</li>`,
  );
  return `<h2>Feature spec vs ${escapeHtml(against)}</h2><ul>${items.join('')}</ul>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const cell = (text: string, tag: 'td' | 'th' = 'td') => `<${tag}>${escapeHtml(text)}</${tag}>`;
const row = (cells: string[], tag: 'td' | 'th' = 'td') =>
  `<tr>${cells.map((c) => cell(c, tag)).join('')}</tr>`;

function table(header: string[], rows: string[][], className = ''): string {
  return [
    `<table${className ? ` class="${className}"` : ''}>`,
    `<thead>${row(header, 'th')}</thead>`,
    `<tbody>${rows.map((r) => row(r)).join('')}</tbody>`,
    '</table>',
  ].join('\n');
}

function overallTable(report: EvaluationReportData): string {
  const { header, rows } = overallTableText(report, report.bestPossible);
  return table(header, rows, 'numbers');
}

function sliceTable(slices: SliceComparison[], withProduction: boolean): string {
  const { header, rows } = sliceTableText(slices, withProduction);
  return table(header, rows, 'numbers');
}

function failuresSection(report: EvaluationReportData): string {
  if (report.blessed) {
    return '<p class="blessed"><strong>Blessed</strong>: the candidate clears every evaluation threshold.</p>';
  }
  const structured: ThresholdFailure[] = report.failedThresholds ?? [];
  const lines = [
    '<p class="not-blessed"><strong>Not blessed</strong>: the candidate fails these thresholds:</p>',
    `<ul>${report.failures.map((failure) => `<li>${escapeHtml(failure)}</li>`).join('')}</ul>`,
  ];
  if (structured.length > 0) {
    lines.push(
      table(
        ['metric', 'threshold', 'setting', 'candidate', 'production', 'past the threshold by'],
        structured.map((f) => [
          f.metric,
          `${f.kind === 'absolute' ? '' : 'change vs production '}${f.threshold}`,
          f.configKey,
          formatMetric(f.candidate),
          f.production === undefined ? '—' : `${formatMetric(f.production)} (v${f.productionVersion ?? '?'})`,
          formatMetric(f.excess),
        ]),
        'numbers',
      ),
    );
  }
  return lines.join('\n');
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; }
th { background: #f5f5f5; text-align: left; }
table.numbers td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
.charts figure { margin: 0; }
.blessed { color: #1a7f37; } .not-blessed { color: #b42318; }
.note { color: #555; font-size: 0.9rem; }
`.trim();

/** The whole report as HTML: the same report data always gives the same page. */
export async function evaluationReportHtml(
  report: EvaluationReportData,
  options: EvaluationReportOptions = {},
): Promise<string> {
  const subject = [options.modelName, options.version ? `v${options.version}` : undefined]
    .filter(Boolean)
    .join(' ');
  const title = `Evaluation report${subject ? `: ${subject}` : ''}`;
  const productionVersion = report.production?.version;
  const [roc, calibration] = await Promise.all([
    renderChartSvg(rocChartSpec(report.curves, productionVersion)),
    renderChartSvg(calibrationChartSpec(report.curves, productionVersion)),
  ]);
  const withProduction = report.production !== undefined;
  const features = [...new Set(report.slices.map((slice) => slice.feature))];
  const flagged = report.slices.filter(isSliceRegression).length;
  const best = bestPossibleSentence(report);
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    failuresSection(report),
    '<h2>Overall</h2>',
    overallTable(report),
    withProduction
      ? ''
      : '<p class="note">No production model was compared (none in production, or it could not be scored on this split).</p>',
    best ? `<p>${escapeHtml(best)}</p>` : '',
    featureSpecSection(report),
    '<div class="charts">',
    `<figure>${roc}<figcaption class="note">The diagonal is a coin flip; the closer a curve runs to the top left, the better the ranking.</figcaption></figure>`,
    `<figure>${calibration}<figcaption class="note">Points on the diagonal are well calibrated: predicted probability equals the observed click rate.</figcaption></figure>`,
    '</div>',
  ];
  if (features.length > 0) {
    body.push(
      '<h2>By slice</h2>',
      '<p class="note">AUC is — where a slice holds only clicks or only non-clicks. Each feature lists its largest values, at most 20.' +
        (flagged > 0
          ? ` ⚠ marks the ${flagged} slice${flagged === 1 ? '' : 's'} where the candidate's AUC is more than ${SLICE_AUC_REGRESSION} below production's.`
          : '') +
        '</p>',
    );
    for (const feature of features) {
      body.push(
        `<h3>By ${escapeHtml(feature)}</h3>`,
        sliceTable(
          report.slices.filter((slice) => slice.feature === feature),
          withProduction,
        ),
      );
    }
  }
  body.push(`<p class="note">Data as JSON: <code>${escapeHtml(report.reportUri)}</code></p>`);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>\n${STYLE}\n</style>`,
    '</head>',
    '<body>',
    ...body.filter((part) => part !== ''),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
