/**
 * The tables both evaluation reports show, as header and cell text: the overall metrics and the
 * metrics per slice, one column per catalog metric. The Markdown and HTML reports render (and
 * escape) the same cells, so they cannot disagree.
 */
import {
  isSliceRegression,
  type BestPossibleMetrics,
  type SliceComparison,
} from '../../contracts/evaluation';
import { formatDelta, formatMetric, METRICS } from '../../contracts/metric-catalog';
import type { EvaluationSummary } from '../../contracts/evaluation';

export interface TextTable {
  header: string[];
  rows: string[][];
}

export const percent = (value: number | undefined) =>
  value === undefined ? '—' : `${(value * 100).toFixed(2)}%`;

/** Candidate, production (with the change) and, when given, the best possible, metric by metric. */
export function overallTableText(
  summary: Pick<EvaluationSummary, 'candidate' | 'production'>,
  bestPossible?: BestPossibleMetrics,
): TextTable {
  const { candidate, production } = summary;
  const header = ['metric', 'candidate'];
  if (production) header.push(`production v${production.version}`, 'Δ');
  if (bestPossible) header.push('best possible');
  const rows = METRICS.map(({ key, description }) => {
    const cells = [description, formatMetric(candidate[key])];
    if (production) cells.push(formatMetric(production[key]), formatDelta(candidate[key], production[key]));
    if (bestPossible) cells.push(formatMetric(bestPossible[key]));
    return cells;
  });
  const extra = (name: string, value: string, productionValue: string, bestValue: string) => {
    const cells = [name, value];
    if (production) cells.push(productionValue, '');
    if (bestPossible) cells.push(bestValue);
    return cells;
  };
  rows.push(
    extra('click rate', percent(candidate.clickRate), percent(production?.clickRate), ''),
    extra(
      'rows',
      String(candidate.count),
      String(production?.count ?? ''),
      String(bestPossible?.count ?? ''),
    ),
  );
  return { header, rows };
}

/** One row per slice: its size and click rate, then each metric for candidate and production (⚠ marks a regression). */
export function sliceTableText(slices: SliceComparison[], withProduction: boolean): TextTable {
  const header = ['value', 'rows', 'click rate'];
  for (const { key, label } of METRICS) {
    header.push(withProduction ? `${label} cand.` : label);
    if (withProduction) header.push(`${label} prod.`);
    if (withProduction && key === 'auc') header.push('Δ AUC');
  }
  const rows = slices.map((slice) => {
    const cells = [
      `${isSliceRegression(slice) ? '⚠ ' : ''}${slice.value}`,
      String(slice.count),
      percent(slice.clickRate),
    ];
    for (const { key } of METRICS) {
      cells.push(formatMetric(slice.candidate[key]));
      if (withProduction) cells.push(formatMetric(slice.production?.[key]));
      if (withProduction && key === 'auc')
        cells.push(formatDelta(slice.candidate.auc, slice.production?.auc));
    }
    return cells;
  });
  return { header, rows };
}
