/**
 * The blessing decision, in the manner of TFX's Evaluator: absolute thresholds on the candidate and
 * change thresholds against the production model scored on the same eval rows. Pure.
 */
import type { PipelineConfig } from '../../contracts/pipeline-config';
import type { ModelMetrics } from '../../contracts/temporal';
import type { BlessingMetric, ProductionMetrics, ThresholdFailure } from '../../contracts/evaluation';

/** The `evaluate` settings, as the config schema outputs them. */
export type BlessingThresholds = PipelineConfig['evaluate'];

/** Float noise a value may sit past a threshold and still count as on it. */
const TOLERANCE = 1e-9;

const METRIC_NAMES: Record<BlessingMetric, string> = { auc: 'AUC', logLoss: 'log loss', ece: 'ECE' };

/**
 * Formats the numbers of one failure: 4 decimals, or as many more as it takes for the amount past
 * the threshold to show (0.54999 against a minimum of 0.55 must not read "0.5500 is below 0.55").
 */
function amountFormatter(excess: number): (value: number) => string {
  const decimals = Math.min(12, Math.max(4, Math.ceil(-Math.log10(excess)) + 1));
  return (value) => value.toFixed(decimals);
}

interface AbsoluteRule {
  metric: BlessingMetric;
  key: 'minAuc' | 'maxLogLoss' | 'maxEce';
  /** `min`: the candidate must reach the threshold; `max`: it must not exceed it. */
  bound: 'min' | 'max';
}

interface ChangeRule {
  metric: BlessingMetric;
  key: 'maxAucDropVsProduction' | 'maxLogLossIncreaseVsProduction' | 'maxEceIncreaseVsProduction';
  /** Whether higher values of the metric are better (AUC) or worse (log loss, ECE). */
  higherIsBetter: boolean;
}

/** Every absolute threshold, in the order failures are listed. */
export const ABSOLUTE_THRESHOLDS: readonly AbsoluteRule[] = [
  { metric: 'auc', key: 'minAuc', bound: 'min' },
  { metric: 'logLoss', key: 'maxLogLoss', bound: 'max' },
  { metric: 'ece', key: 'maxEce', bound: 'max' },
];

/** Every change threshold against production, in the order failures are listed. */
export const CHANGE_THRESHOLDS: readonly ChangeRule[] = [
  { metric: 'auc', key: 'maxAucDropVsProduction', higherIsBetter: true },
  { metric: 'logLoss', key: 'maxLogLossIncreaseVsProduction', higherIsBetter: false },
  { metric: 'ece', key: 'maxEceIncreaseVsProduction', higherIsBetter: false },
];

function absoluteFailure(
  rule: AbsoluteRule,
  candidate: number,
  threshold: number,
): ThresholdFailure | undefined {
  const excess = rule.bound === 'min' ? threshold - candidate : candidate - threshold;
  if (!(excess > TOLERANCE)) return undefined;
  const configKey = `evaluate.${rule.key}`;
  const formatAmount = amountFormatter(excess);
  const side = rule.bound === 'min' ? 'below the minimum' : 'above the maximum';
  return {
    metric: rule.metric,
    kind: 'absolute',
    configKey,
    threshold,
    candidate,
    excess,
    message:
      `${METRIC_NAMES[rule.metric]} ${formatAmount(candidate)} is ${side} ${threshold} ` +
      `by ${formatAmount(excess)} (${configKey})`,
  };
}

function changeFailure(
  rule: ChangeRule,
  candidate: number,
  production: ProductionMetrics,
  productionValue: number,
  threshold: number,
): ThresholdFailure | undefined {
  // How much worse the candidate is than production, positive when worse.
  const worse = rule.higherIsBetter ? productionValue - candidate : candidate - productionValue;
  const excess = worse - threshold;
  if (!(excess > TOLERANCE)) return undefined;
  const configKey = `evaluate.${rule.key}`;
  const formatAmount = amountFormatter(excess);
  const [direction, allowance] = rule.higherIsBetter ? ['below', 'drop'] : ['above', 'increase'];
  return {
    metric: rule.metric,
    kind: 'vsProduction',
    configKey,
    threshold,
    candidate,
    production: productionValue,
    productionVersion: production.version,
    excess,
    message:
      `${METRIC_NAMES[rule.metric]} ${formatAmount(candidate)} is ${formatAmount(worse)} ${direction} ` +
      `production v${production.version} (${formatAmount(productionValue)}): ${formatAmount(excess)} ` +
      `more than the allowed ${allowance} of ${threshold} (${configKey})`,
  };
}

/**
 * Every threshold the candidate fails, absolute ones first; empty means blessed. Thresholds that are
 * off (unset) or whose metric is unknown (an older summary without ECE) are skipped, and so are the
 * change thresholds when there is no production model to compare with.
 */
export function findThresholdFailures(
  candidate: ModelMetrics,
  production: ProductionMetrics | undefined,
  thresholds: BlessingThresholds,
): ThresholdFailure[] {
  const failures: ThresholdFailure[] = [];
  for (const rule of ABSOLUTE_THRESHOLDS) {
    const threshold = thresholds[rule.key];
    const value = candidate[rule.metric];
    if (threshold === undefined || value === undefined) continue;
    const failure = absoluteFailure(rule, value, threshold);
    if (failure) failures.push(failure);
  }
  if (!production) return failures;
  for (const rule of CHANGE_THRESHOLDS) {
    const threshold = thresholds[rule.key];
    const value = candidate[rule.metric];
    const productionValue = production[rule.metric];
    if (threshold === undefined || value === undefined || productionValue === undefined) continue;
    const failure = changeFailure(rule, value, production, productionValue, threshold);
    if (failure) failures.push(failure);
  }
  return failures;
}
