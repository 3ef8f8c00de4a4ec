/**
 * The evaluation report: what report.json holds (the summary and the curves), and its Markdown
 * (report.md): overall and per-slice metrics, the best possible AUC, the blessing and its failures. Pure.
 */
import type { CalibrationBin, RocPoint } from '../../lib/model/metrics';
import {
  isSliceRegression,
  SLICE_AUC_REGRESSION,
  type EvaluationSummary,
  type SliceComparison,
} from '../../contracts/evaluation';
import { escapeMarkdown } from '../../contracts/markdown';
import { bestPossibleSentence, formatDelta, formatMetric, METRICS } from '../../contracts/metric-catalog';

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

const percent = (value: number | undefined) => (value === undefined ? '—' : `${(value * 100).toFixed(2)}%`);

function overallSection(summary: EvaluationSummary): string[] {
  const { candidate, production } = summary;
  if (!production) {
    return [
      '| metric | candidate |',
      '|---|---:|',
      ...METRICS.map(({ key, description }) => `| ${description} | ${formatMetric(candidate[key])} |`),
      `| click rate | ${percent(candidate.clickRate)} |`,
      `| rows | ${candidate.count} |`,
      '',
      'No production model was compared (none in production, or it could not be scored on this split).',
    ];
  }
  return [
    `| metric | candidate | production v${escapeMarkdown(production.version)} | Δ |`,
    '|---|---:|---:|---:|',
    ...METRICS.map(
      ({ key, description }) =>
        `| ${description} | ${formatMetric(candidate[key])} | ${formatMetric(production[key])} | ` +
        `${formatDelta(candidate[key], production[key])} |`,
    ),
    `| click rate | ${percent(candidate.clickRate)} | ${percent(production.clickRate)} | |`,
    `| rows | ${candidate.count} | ${production.count} | |`,
  ];
}

function sliceSection(feature: string, slices: SliceComparison[], withProduction: boolean): string[] {
  const header = ['value', 'rows', 'click rate'];
  for (const { key, label } of METRICS) {
    header.push(withProduction ? `${label} cand.` : label);
    if (withProduction) header.push(`${label} prod.`);
    if (withProduction && key === 'auc') header.push('Δ AUC');
  }
  const rows = slices.map((slice) => {
    const cells = [
      `${isSliceRegression(slice) ? '⚠ ' : ''}${escapeMarkdown(slice.value)}`,
      String(slice.count),
      percent(slice.clickRate),
    ];
    for (const { key } of METRICS) {
      cells.push(formatMetric(slice.candidate[key]));
      if (withProduction) cells.push(formatMetric(slice.production?.[key]));
      if (withProduction && key === 'auc')
        cells.push(formatDelta(slice.candidate.auc, slice.production?.auc));
    }
    return `| ${cells.join(' | ')} |`;
  });
  return [
    '',
    `### By ${feature}`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows,
  ];
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
