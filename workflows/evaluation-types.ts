/** What the evaluate stage reports: overall and per-slice metrics of candidate and production. Types only. */
import type { ModelMetrics } from './definitions';

/** Columns of the examples that evaluation slices by. */
export type SliceFeature = 'device' | 'placement';

/** One model's metrics on one slice of the eval split. */
export interface SliceMetrics {
  /** Null when the slice holds only clicks or only non-clicks, where AUC is undefined. */
  auc: number | null;
  logLoss: number;
  /** Share of predictions right at the 0.5 threshold. */
  accuracy: number;
  /** Expected calibration error over 10 equal-width probability bins. */
  ece: number;
}

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

/** The evaluate stage's result, also written as report.json beside report.md. */
export interface EvaluationSummary {
  candidate: ModelMetrics;
  production?: ProductionMetrics;
  /** Per device and per placement, largest slices first, at most 20 values per feature. */
  slices: SliceComparison[];
  blessed: boolean;
  /** Why the candidate was not blessed, one line per failed threshold. */
  failures: string[];
  /** The summary as JSON (report.json). */
  reportUri: string;
  /** The report a person reads (report.md). */
  reportMarkdownUri: string;
}
