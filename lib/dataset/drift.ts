/**
 * Drift between the dataset the production model was trained on and a new one, per feature:
 * population stability index (PSI) for numeric features, binned on the baseline's quantiles,
 * and Jensen-Shannon divergence for categorical ones, over the baseline's most frequent values.
 *
 * Both statistics are biased upwards on finite samples: two samples of one distribution give
 * PSI ≈ (k − 1)(1/n₁ + 1/n₂) over k bins on average, and JS ≈ that / (8 ln 2) bits. That
 * expected noise is reported beside each value and subtracted before comparing with the
 * thresholds, so a few hundred rows do not raise drift that only sampling made.
 */
import type { DriftOptions, DriftResult, FeatureDrift } from '../../contracts/drift';
import type { Anomaly, AnomalySeverity } from './anomalies';
import { bucketCounts, quantileEdges } from './numeric-histogram';
import { vocabularyOf, type DatasetStatistics, type FeatureStatistics } from './statistics';

/** Proportions are floored here so an empty bin contributes a large but finite term (the usual PSI practice). */
const MIN_PROPORTION = 1e-4;

function proportions(counts: readonly number[]): number[] {
  const total = counts.reduce((sum, count) => sum + count, 0);
  return counts.map((count) => (total === 0 ? 0 : count / total));
}

/** PSI = Σ (a − e) ln(a / e) over bins, from the counts of the baseline (expected) and the new data (actual). */
export function populationStabilityIndex(expected: readonly number[], actual: readonly number[]): number {
  const e = proportions(expected);
  const a = proportions(actual);
  return e.reduce((sum, ei, i) => {
    const ef = Math.max(ei, MIN_PROPORTION);
    const af = Math.max(a[i]!, MIN_PROPORTION);
    return sum + (af - ef) * Math.log(af / ef);
  }, 0);
}

/** Jensen-Shannon divergence in bits (0 identical, 1 disjoint) between two count vectors over the same categories. */
export function jensenShannonDivergence(p: readonly number[], q: readonly number[]): number {
  const pp = proportions(p);
  const qq = proportions(q);
  let divergence = 0;
  pp.forEach((pi, i) => {
    const qi = qq[i]!;
    const mi = (pi + qi) / 2;
    if (pi > 0) divergence += 0.5 * pi * Math.log2(pi / mi);
    if (qi > 0) divergence += 0.5 * qi * Math.log2(qi / mi);
  });
  return Math.max(0, divergence);
}

/** Expected PSI between two samples of one distribution over `bins` occupied bins. */
function psiNoise(bins: number, n1: number, n2: number): number {
  return Math.max(0, bins - 1) * (1 / n1 + 1 / n2);
}

const occupied = (a: readonly number[], b: readonly number[]) =>
  a.filter((count, i) => count + b[i]! > 0).length;

function numericDrift(
  name: string,
  baseline: FeatureStatistics,
  current: FeatureStatistics,
  options: DriftOptions,
) {
  const edges = quantileEdges(baseline.numeric!.histogram, options.bins);
  const expected = bucketCounts(baseline.numeric!.histogram, edges);
  const actual = bucketCounts(current.numeric!.histogram, edges);
  return {
    feature: name,
    metric: 'psi' as const,
    value: populationStabilityIndex(expected, actual),
    noise: psiNoise(occupied(expected, actual), baseline.count, current.count),
  };
}

function categoricalDrift(
  name: string,
  baseline: FeatureStatistics,
  current: FeatureStatistics,
  options: DriftOptions,
) {
  const kept = baseline.categorical!.top.slice(0, options.maxCategories);
  const baselineOther = baseline.count - kept.reduce((sum, [, count]) => sum + count, 0);
  const currentCounts = vocabularyOf(current);
  const actualKept = kept.map(([value]) => currentCounts.get(value) ?? 0);
  // Values the baseline never had (or had outside its top) all land in "other": JS is the same
  // whether they are one category or many when the baseline has none of them.
  const expected = [...kept.map(([, count]) => count), baselineOther];
  const actual = [...actualKept, current.count - actualKept.reduce((sum, count) => sum + count, 0)];
  return {
    feature: name,
    metric: 'jensen_shannon' as const,
    value: jensenShannonDivergence(expected, actual),
    noise: psiNoise(occupied(expected, actual), baseline.count, current.count) / (8 * Math.LN2),
  };
}

/** Drift of every numeric and categorical feature the two datasets share (identifiers excluded). */
export function measureDrift(
  baseline: DatasetStatistics,
  current: DatasetStatistics,
  options: DriftOptions,
): DriftResult {
  const result: DriftResult = {
    measured: false,
    baselineRows: baseline.rows,
    rows: current.rows,
    features: [],
  };
  const smaller = Math.min(baseline.rows, current.rows);
  if (smaller < options.minRows) {
    result.skippedReason =
      `${baseline.rows} baseline rows and ${current.rows} new rows; drift needs at least ` +
      `${options.minRows} on each side (data.validation.drift.minRows)`;
    return result;
  }
  for (const [name, feature] of Object.entries(current.features)) {
    const before = baseline.features[name];
    if (!before || before.type !== feature.type || feature.count === 0 || before.count === 0) continue;
    const measure =
      feature.numeric && before.numeric
        ? numericDrift(name, before, feature, options)
        : feature.categorical && before.categorical
          ? categoricalDrift(name, before, feature, options)
          : undefined;
    if (!measure) continue;
    const [warning, critical] =
      measure.metric === 'psi'
        ? [options.psiWarning, options.psiCritical]
        : [options.jsWarning, options.jsCritical];
    const excess = measure.value - measure.noise;
    const level = excess > critical ? 'critical' : excess > warning ? 'warning' : 'none';
    result.features.push({ ...measure, level });
  }
  result.measured = true;
  return result;
}

function metricName(metric: FeatureDrift['metric']): string {
  return metric === 'psi' ? 'PSI' : 'Jensen-Shannon divergence';
}

/** Anomalies for the features that drifted; critical only when failOnCritical is set. */
export function driftAnomalies(result: DriftResult, options: DriftOptions): Anomaly[] {
  return result.features
    .filter((drift) => drift.level !== 'none')
    .map((drift) => {
      const key = drift.metric === 'psi' ? 'psi' : 'js';
      const threshold = drift.level === 'critical' ? options[`${key}Critical`] : options[`${key}Warning`];
      const severity: AnomalySeverity =
        drift.level === 'critical' && options.failOnCritical ? 'critical' : 'warning';
      const words = drift.level === 'critical' ? 'major drift' : 'drift';
      const setting = `data.validation.drift.${key}${drift.level === 'critical' ? 'Critical' : 'Warning'}`;
      return {
        severity,
        kind: 'drift' as const,
        feature: drift.feature,
        value: drift.value,
        threshold,
        message:
          `${drift.feature}: ${words} from the production model's training data: ${metricName(drift.metric)} ` +
          `${drift.value.toFixed(3)}, less ${drift.noise.toFixed(3)} of sampling noise, > ${threshold} (${setting})`,
      };
    });
}
