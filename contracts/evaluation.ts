/** What the evaluate stage reports: overall and per-slice metrics of candidate and production. Workflow-safe. */
import type { FeatureSpecComparison } from './feature-spec-diff';
import type { MetricValues, PartialMetricValues } from './metric-catalog';
import type { ModelMetrics } from './temporal';

/** A categorical column evaluation slices by: the feature spec's `slices` (the ads: device, placement). */
export type SliceFeature = string;

/** One model's metrics on one slice of the eval split (AUC null where the slice has one label only). */
export type SliceMetrics = MetricValues;

/** Candidate and production side by side on the examples where `feature` equals `value`. */
export interface SliceComparison {
  feature: SliceFeature;
  value: string;
  /** Eval examples in the slice. */
  count: number;
  /** Share of them that were clicked. */
  clickRate: number;
  candidate: SliceMetrics;
  /** Absent when there is no production model, or it could not be scored. */
  production?: SliceMetrics;
}

/** The production model's overall metrics, with the version they belong to. */
export type ProductionMetrics = ModelMetrics & { version: string };

/** Metrics the true click probabilities reach on the eval rows: the best any model can do. */
export type BestPossibleMetrics = PartialMetricValues & {
  auc: number;
  logLoss: number;
  /** Eval rows whose ad_id the ground-truth file lists (normally all of them). */
  count: number;
};

/** Metrics a blessing threshold can be set on. */
export type BlessingMetric = 'auc' | 'logLoss' | 'ece';

/** One blessing threshold the candidate failed, with the numbers behind it. */
export interface ThresholdFailure {
  metric: BlessingMetric;
  /** `absolute`: on the candidate alone; `vsProduction`: a change against the production model. */
  kind: 'absolute' | 'vsProduction';
  /** The setting that holds the threshold, e.g. `evaluate.maxAucDropVsProduction`. */
  configKey: string;
  threshold: number;
  candidate: number;
  /** With `vsProduction`: production's value and version. */
  production?: number;
  productionVersion?: string;
  /** How far past the threshold the candidate is, in the metric's units (always > 0). */
  excess: number;
  /** The same as one sentence a person can act on. */
  message: string;
}

/** The evaluate stage's result; report.json beside report.md and report.html holds it and the curves. */
export interface EvaluationSummary {
  candidate: ModelMetrics;
  production?: ProductionMetrics;
  /** Per device and per placement, largest slices first, at most 20 values per feature. */
  slices: SliceComparison[];
  /** Only when the dataset came with true click probabilities (ground_truth.csv, synthetic data). */
  bestPossible?: BestPossibleMetrics;
  blessed: boolean;
  /** Why the candidate was not blessed, one line per failed threshold. */
  failures: string[];
  /** The same failures with their numbers; absent from summaries written before it existed. */
  failedThresholds?: ThresholdFailure[];
  /** The summary and the curves as JSON (report.json). */
  reportUri: string;
  /** The report as Markdown (report.md). */
  reportMarkdownUri: string;
  /** The report as a self-contained HTML page with ROC and calibration charts (report.html). */
  reportHtmlUri?: string;
  /** The candidate's feature spec against production's; absent without a loadable production model. */
  featureSpec?: FeatureSpecComparison;
}

/** A slice is flagged when the candidate's AUC is below production's by more than this. */
export const SLICE_AUC_REGRESSION = 0.02;

/** Whether the candidate's AUC on a slice is worse than production's by more than SLICE_AUC_REGRESSION. */
export function isSliceRegression(slice: SliceComparison): boolean {
  const candidate = slice.candidate.auc;
  const production = slice.production?.auc;
  return (
    candidate !== null &&
    production !== undefined &&
    production !== null &&
    production - candidate > SLICE_AUC_REGRESSION
  );
}
