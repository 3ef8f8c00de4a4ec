/** An evaluation summary for report tests: a candidate slightly better than production v6. */
import type { EvaluationSummary, SliceComparison } from '../../../contracts/evaluation';

/** The mobile slice, where the candidate beats production. */
export const MOBILE_SLICE: SliceComparison = {
  feature: 'device',
  value: 'mobile',
  count: 600,
  clickRate: 0.25,
  candidate: { auc: 0.74, logLoss: 0.5, accuracy: 0.78, ece: 0.02 },
  production: { auc: 0.7, logLoss: 0.52, accuracy: 0.77, ece: 0.03 },
};

/** A blessed candidate compared with production v6 over 1000 rows, with `slices` as given. */
export function evaluationSummary(
  slices: SliceComparison[],
  overrides: Partial<EvaluationSummary> = {},
): EvaluationSummary {
  return {
    candidate: { auc: 0.7312, logLoss: 0.4521, accuracy: 0.81, ece: 0.031, clickRate: 0.2, count: 1000 },
    production: {
      auc: 0.7101,
      logLoss: 0.4702,
      accuracy: 0.8,
      ece: 0.045,
      clickRate: 0.2,
      count: 1000,
      version: '6',
    },
    slices,
    blessed: true,
    failures: [],
    reportUri: '/store/runs/w/r/evaluate/report.json',
    reportMarkdownUri: '/store/runs/w/r/evaluate/report.md',
    ...overrides,
  };
}
