/** How drift between a baseline dataset and a new one is measured and reported, per feature. Types only. */

export interface DriftOptions {
  psiWarning: number;
  psiCritical: number;
  jsWarning: number;
  jsCritical: number;
  /** Quantile bins of the baseline per numeric feature. */
  bins: number;
  /** Categories compared per categorical feature: the baseline's most frequent, the rest as one "other". */
  maxCategories: number;
  /** Either side with fewer rows: drift is not measured (the noise would swamp it). */
  minRows: number;
  /** When true, drift past a critical threshold fails the pipeline; by default it is a warning. */
  failOnCritical: boolean;
}

export interface FeatureDrift {
  feature: string;
  metric: 'psi' | 'jensen_shannon';
  value: number;
  /** The value two samples of one distribution of these sizes give on average. */
  noise: number;
  level: 'none' | 'warning' | 'critical';
}

export interface DriftResult {
  measured: boolean;
  /** Why drift was not measured. */
  skippedReason?: string;
  baselineRows: number;
  rows: number;
  features: FeatureDrift[];
}
