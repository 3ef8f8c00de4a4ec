/**
 * The evaluation report's charts, ROC and calibration, as Vega-Lite specs rendered to SVG strings
 * in Node: no browser, no canvas, no network.
 */
import { pathToFileURL } from 'node:url';
import type * as VegaModule from 'vega' with { 'resolution-mode': 'import' };
import type * as VegaLiteModule from 'vega-lite' with { 'resolution-mode': 'import' };
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import type { EvaluationCurves } from './report-markdown';

/** Pixel size of each chart's plotting area. */
export const CHART_SIZE = 320;

const SERIES_COLORS = {
  candidate: '#1f77b4',
  production: '#ff7f0e',
  best: '#2ca02c',
} as const;

interface Series {
  name: string;
  color: string;
}

function seriesOf(
  curves: EvaluationCurves,
  productionVersion: string | undefined,
  withBest: boolean,
): Series[] {
  const series: Series[] = [{ name: 'candidate', color: SERIES_COLORS.candidate }];
  if (curves.production) {
    series.push({ name: `production v${productionVersion ?? '?'}`, color: SERIES_COLORS.production });
  }
  if (withBest && curves.bestPossible) {
    series.push({ name: 'true probabilities (best possible)', color: SERIES_COLORS.best });
  }
  return series;
}

const DIAGONAL = {
  values: [
    { x: 0, y: 0 },
    { x: 1, y: 1 },
  ],
};

function diagonalLayer(xTitle: string, yTitle: string) {
  return {
    data: DIAGONAL,
    mark: { type: 'line' as const, color: '#999999', strokeDash: [4, 4], strokeWidth: 1 },
    encoding: {
      x: { field: 'x', type: 'quantitative' as const, title: xTitle, scale: { domain: [0, 1] } },
      y: { field: 'y', type: 'quantitative' as const, title: yTitle, scale: { domain: [0, 1] } },
    },
  };
}

function colorEncoding(series: Series[]) {
  return {
    field: 'series',
    type: 'nominal' as const,
    title: null,
    scale: { domain: series.map((s) => s.name), range: series.map((s) => s.color) },
    legend: { orient: 'bottom' as const, direction: 'vertical' as const, labelLimit: CHART_SIZE },
  };
}

/** The ROC chart: candidate, production and (when known) the true probabilities, over the diagonal of chance. */
export function rocChartSpec(curves: EvaluationCurves, productionVersion?: string): TopLevelSpec {
  const series = seriesOf(curves, productionVersion, true);
  const [candidate, production, best] = series.map((s) => s.name);
  const rows = [
    ...curves.candidate.roc.map((p, i) => ({ series: candidate, fpr: p.fpr, tpr: p.tpr, i })),
    ...(curves.production?.roc ?? []).map((p, i) => ({ series: production, fpr: p.fpr, tpr: p.tpr, i })),
    ...(curves.bestPossible?.roc ?? []).map((p, i) => ({ series: best, fpr: p.fpr, tpr: p.tpr, i })),
  ];
  return {
    width: CHART_SIZE,
    height: CHART_SIZE,
    title: 'ROC curve',
    layer: [
      diagonalLayer('false positive rate', 'true positive rate'),
      {
        data: { values: rows },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          x: { field: 'fpr', type: 'quantitative' },
          y: { field: 'tpr', type: 'quantitative' },
          color: colorEncoding(series),
          // The curve's own order: points sharing a false positive rate stay in threshold order.
          order: { field: 'i', type: 'quantitative' },
        },
      },
    ],
  };
}

/** The reliability diagram: per probability bin, mean predicted probability against observed click rate. */
export function calibrationChartSpec(curves: EvaluationCurves, productionVersion?: string): TopLevelSpec {
  const series = seriesOf(curves, productionVersion, false);
  const [candidate, production] = series.map((s) => s.name);
  const points = (name: string | undefined, bins: EvaluationCurves['candidate']['calibration']) =>
    bins
      .filter((bin) => bin.count > 0)
      .map((bin) => ({
        series: name,
        predicted: bin.meanProbability,
        observed: bin.clickRate,
        rows: bin.count,
      }));
  const rows = [
    ...points(candidate, curves.candidate.calibration),
    ...points(production, curves.production?.calibration ?? []),
  ];
  return {
    width: CHART_SIZE,
    height: CHART_SIZE,
    title: 'Calibration (reliability)',
    layer: [
      diagonalLayer('mean predicted click probability', 'observed click rate'),
      {
        data: { values: rows },
        mark: { type: 'line', strokeWidth: 2, point: { filled: true } },
        encoding: {
          x: { field: 'predicted', type: 'quantitative' },
          y: { field: 'observed', type: 'quantitative' },
          color: colorEncoding(series),
        },
      },
    ],
  };
}

type Vega = typeof VegaModule;
type VegaLite = typeof VegaLiteModule;

/**
 * Vega and Vega-Lite are ES modules, so this CommonJS project loads them with import(); by file URL,
 * which resolves however this file was loaded (tsx compiles it to a data: URL when an ES module imports it).
 */
const importEsm = <T>(specifier: string) =>
  import(pathToFileURL(require.resolve(specifier)).href) as Promise<T>;
const importVega = () => Promise.all([importEsm<Vega>('vega'), importEsm<VegaLite>('vega-lite')]);
let vegaModules: ReturnType<typeof importVega> | undefined;

/** Loads Vega on first use, so only processes that draw charts pay for it. */
function loadVega(): ReturnType<typeof importVega> {
  vegaModules ??= importVega();
  return vegaModules;
}

/** Renders a Vega-Lite spec to an SVG string, without a browser or a canvas. */
export async function renderChartSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await loadVega();
  // Errors only: a worker's log is no place for chart-layout notes.
  const logger = vega.logger(vega.Error);
  const view = new vega.View(vega.parse(vegaLite.compile(spec, { logger }).spec), {
    renderer: 'none',
    logger,
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
