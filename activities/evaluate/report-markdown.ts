/**
 * The evaluation report: what report.json holds (the summary and the curves), and its Markdown
 * (report.md): overall and per-slice metrics, the best possible AUC, the blessing and its failures. Pure.
 */
import { featureSpecComparisonMarkdown } from '../../contracts/feature-spec-diff';
import type { CalibrationBin, RocPoint } from '../../lib/model/metrics';
import {
  isSliceRegression,
  SLICE_AUC_REGRESSION,
  type EvaluationSummary,
  type SliceComparison,
} from '../../contracts/evaluation';
import { escapeMarkdown } from '../../contracts/markdown';
import { bestPossibleSentence } from '../../contracts/metric-catalog';
import { overallTableText, sliceTableText, type TextTable } from './report-tables';

/** One model's curves on the eval rows, for the HTML report's charts. */
export interface ModelCurves {
  /** At most MAX_ROC_POINTS points, from (0, 0) to (1, 1). */
  roc: RocPoint[];
  /** 10 equal-width probability bins, empty ones included. */
  calibration: CalibrationBin[];
}

/** Curves of every model evaluated: kept in report.json, never in the activity's result. */
export interface EvaluationCurves {
  candidate: ModelCurves;
  production?: ModelCurves;
  /** The ROC curve of the true click probabilities, when the dataset has them. */
  bestPossible?: Pick<ModelCurves, 'roc'>;
}

/** What report.json holds: the activity's summary and the curves the HTML report draws. */
export type EvaluationReportData = EvaluationSummary & { curves: EvaluationCurves };

/** Names the report's subject when known (the version is only assigned at registration). */
export interface EvaluationReportOptions {
  modelName?: string;
  version?: string;
}

/** A table as Markdown: text cells escaped, numbers right-aligned, empty cells left empty. */
function markdownTable({ header, rows }: TextTable): string[] {
  const line = (cells: string[]) =>
    `|${cells.map((cell) => (cell === '' ? ' ' : ` ${escapeMarkdown(cell)} `)).join('|')}|`;
  return [line(header), `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map(line)];
}

function overallSection(summary: EvaluationSummary): string[] {
  const table = markdownTable(overallTableText(summary));
  return summary.production
    ? table
    : [
        ...table,
        '',
        'No production model was compared (none in production, or it could not be scored on this split).',
      ];
}

function sliceSection(feature: string, slices: SliceComparison[], withProduction: boolean): string[] {
  return ['', `### By ${feature}`, '', ...markdownTable(sliceTableText(slices, withProduction))];
}

function bestPossibleSection(summary: EvaluationSummary): string[] {
  const sentence = bestPossibleSentence(summary);
  return sentence ? ['', sentence] : [];
}

/** The whole report as Markdown; the same summary always gives the same text. */
export function evaluationReportMarkdown(
  summary: EvaluationSummary,
  options: EvaluationReportOptions = {},
): string {
  const subject = [
    options.modelName ? escapeMarkdown(options.modelName) : undefined,
    options.version ? `v${escapeMarkdown(options.version)}` : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  const withProduction = summary.production !== undefined;
  const features = [...new Set(summary.slices.map((slice) => slice.feature))];
  const flagged = summary.slices.filter(isSliceRegression);
  const lines = [
    `# Evaluation report${subject ? `: ${subject}` : ''}`,
    '',
    summary.blessed
      ? '**Blessed**: the candidate clears every evaluation threshold.'
      : '**Not blessed**: the candidate fails these thresholds:',
    ...summary.failures.map((failure) => `- ${escapeMarkdown(failure)}`),
    '',
    '## Overall',
    '',
    ...overallSection(summary),
    ...bestPossibleSection(summary),
    ...(summary.featureSpec
      ? ['', '## Feature spec', '', ...featureSpecComparisonMarkdown(summary.featureSpec)]
      : []),
  ];
  if (features.length > 0) {
    lines.push(
      '',
      '## By slice',
      '',
      'AUC is — where a slice holds only clicks or only non-clicks. ' +
        'Each feature lists its largest values, at most 20.',
    );
    if (flagged.length > 0) {
      lines.push(
        '',
        `⚠ marks the ${flagged.length} slice${flagged.length === 1 ? '' : 's'} where the candidate's AUC is ` +
          `more than ${SLICE_AUC_REGRESSION} below production's.`,
      );
    }
    for (const feature of features) {
      lines.push(
        ...sliceSection(
          feature,
          summary.slices.filter((slice) => slice.feature === feature),
          withProduction,
        ),
      );
    }
  }
  if (summary.reportHtmlUri) {
    lines.push('', `With ROC and calibration charts: \`${summary.reportHtmlUri}\``);
  }
  lines.push('', `Summary as JSON: \`${summary.reportUri}\``, '');
  return lines.join('\n');
}
