/** Binary-classification metrics for evaluation and canary analysis: ROC AUC, log loss, accuracy, calibration. */
import type { MetricValues } from '../../contracts/metric-catalog';

function checkInputs(labels: ArrayLike<number>, values: ArrayLike<number>, what: string): void {
  if (labels.length !== values.length) {
    throw new RangeError(`labels and ${what} differ in length (${labels.length} vs ${values.length})`);
  }
  if (labels.length === 0) throw new RangeError(`cannot compute a metric on zero examples`);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label !== 0 && label !== 1) throw new RangeError(`label ${i} must be 0 or 1, got ${String(label)}`);
    if (!Number.isFinite(values[i]))
      throw new RangeError(`${what} ${i} must be a finite number, got ${String(values[i])}`);
  }
}

/**
 * ROC AUC by the rank-sum (Mann–Whitney U) formula, tied scores sharing their average rank; O(n log n).
 * Throws when only one class is present, where AUC is undefined.
 */
export function computeAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkInputs(labels, scores, 'scores');
  const n = labels.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i]!;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) {
    throw new RangeError(
      `AUC is undefined when only one class is present (${positives} positive, ${negatives} negative labels)`,
    );
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positiveRankSum = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && scores[order[end]!] === scores[order[start]!]) end++;
    // Ranks are 1-based; a run of ties at positions start..end-1 shares their mean rank.
    const averageRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) positiveRankSum += labels[order[k]!]! * averageRank;
    start = end;
  }
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean binary cross-entropy (natural log), probabilities clipped to [eps, 1 - eps] so certainty costs finitely. */
export function computeLogLoss(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  eps = 1e-7,
): number {
  checkInputs(labels, probabilities, 'probabilities');
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i]!));
    total -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return total / labels.length;
}

/** Share of examples whose probability lands on the right side of `threshold` (p ≥ threshold counts as a click). */
export function computeAccuracy(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  threshold = 0.5,
): number {
  checkInputs(labels, probabilities, 'probabilities');
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    if ((probabilities[i]! >= threshold ? 1 : 0) === labels[i]) correct++;
  }
  return correct / labels.length;
}

/** Per equal-width probability bin over [0, 1] (1.0 in the last): examples, Σ probability, Σ label. */
function binByProbability(labels: ArrayLike<number>, probabilities: ArrayLike<number>, bins: number) {
  checkInputs(labels, probabilities, 'probabilities');
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const counts = new Float64Array(bins);
  const probabilitySums = new Float64Array(bins);
  const labelSums = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1, Math.max(0, probabilities[i]!));
    const bin = Math.min(bins - 1, Math.floor(p * bins));
    counts[bin]! += 1;
    probabilitySums[bin]! += p;
    labelSums[bin]! += labels[i]!;
  }
  return { counts, probabilitySums, labelSums };
}

/**
 * Expected calibration error: examples binned by probability into `bins` equal-width bins over [0, 1]
 * (1.0 falls in the last), then the mean |mean probability − click rate| of the bins, weighted by their size.
 */
export function computeExpectedCalibrationError(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  bins = 10,
): number {
  const { probabilitySums, labelSums } = binByProbability(labels, probabilities, bins);
  let total = 0;
  for (let bin = 0; bin < bins; bin++) {
    // |Σp − Σy| / n  equals  (n_bin / n) · |mean p − mean y| of the bin.
    total += Math.abs(probabilitySums[bin]! - labelSums[bin]!);
  }
  return total / labels.length;
}

/** One point of a ROC curve: predicting a click when the score is at least `threshold`. */
export interface RocPoint {
  /** False positive rate: share of non-clicks predicted as clicks. */
  fpr: number;
  /** True positive rate (recall): share of clicks predicted as clicks. */
  tpr: number;
  /** The lowest score predicted as a click; null at (0, 0), where nothing is. */
  threshold: number | null;
}

/** Points a ROC curve is downsampled to by default: plenty for a chart, small for a report file. */
export const MAX_ROC_POINTS = 200;

/**
 * The ROC curve from (0, 0) to (1, 1), one point per distinct score (ties move together, so the
 * curve never passes through a point no threshold gives), collinear points dropped as
 * scikit-learn's `roc_curve(drop_intermediate=True)` does, then at most `maxPoints` kept, spread
 * evenly along the curve (by fpr + tpr, which only grows along it), the ends always included.
 * Throws when only one class is present, where the curve is undefined.
 */
export function computeRocCurve(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  maxPoints = MAX_ROC_POINTS,
): RocPoint[] {
  checkInputs(labels, scores, 'scores');
  if (!Number.isInteger(maxPoints) || maxPoints < 2)
    throw new RangeError(`maxPoints must be an integer of at least 2, got ${maxPoints}`);
  const n = labels.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i]!;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) {
    throw new RangeError(
      `the ROC curve is undefined when only one class is present (${positives} positive, ${negatives} negative labels)`,
    );
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const full: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: null }];
  let truePositives = 0;
  let falsePositives = 0;
  for (let start = 0; start < n;) {
    const threshold = scores[order[start]!]!;
    let end = start;
    for (; end < n && scores[order[end]!] === threshold; end++) {
      if (labels[order[end]!] === 1) truePositives++;
      else falsePositives++;
    }
    full.push({ fpr: falsePositives / negatives, tpr: truePositives / positives, threshold });
    start = end;
  }
  const kept = dropCollinear(full);
  return kept.length <= maxPoints ? kept : downsample(kept, maxPoints);
}

function dropCollinear(points: RocPoint[]): RocPoint[] {
  const kept = [points[0]!];
  for (let i = 1; i < points.length - 1; i++) {
    const previous = kept.at(-1)!;
    const point = points[i]!;
    const next = points[i + 1]!;
    // Cross product of (point − previous) and (next − point); zero when the three are on one line.
    const cross =
      (point.fpr - previous.fpr) * (next.tpr - point.tpr) -
      (point.tpr - previous.tpr) * (next.fpr - point.fpr);
    if (Math.abs(cross) > 1e-15) kept.push(point);
  }
  kept.push(points.at(-1)!);
  return kept;
}

function downsample(points: RocPoint[], maxPoints: number): RocPoint[] {
  const sampled = [points[0]!];
  let index = 0;
  for (let k = 1; k < maxPoints - 1; k++) {
    // The point reached by 2k/(maxPoints − 1) of the way along fpr + tpr, which runs from 0 to 2.
    const target = (2 * k) / (maxPoints - 1);
    while (index + 1 < points.length - 1 && points[index + 1]!.fpr + points[index + 1]!.tpr <= target)
      index++;
    if (points[index] !== sampled.at(-1)) sampled.push(points[index]!);
  }
  sampled.push(points.at(-1)!);
  return sampled;
}

/** One bin of a reliability diagram. */
export interface CalibrationBin {
  /** The bin covers probabilities in [lower, upper); the last bin includes 1. */
  lower: number;
  upper: number;
  /** Examples whose probability falls in the bin. */
  count: number;
  /** Their mean predicted probability; null for an empty bin. */
  meanProbability: number | null;
  /** Their observed click rate; null for an empty bin. */
  clickRate: number | null;
}

/**
 * The reliability diagram's bins: `bins` equal-width bins over [0, 1] (1.0 falls in the last), the
 * same binning as computeExpectedCalibrationError, so ECE is Σ count/n · |meanProbability − clickRate|.
 */
export function computeCalibrationBins(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  bins = 10,
): CalibrationBin[] {
  const { counts, probabilitySums, labelSums } = binByProbability(labels, probabilities, bins);
  return Array.from(counts, (count, bin) => ({
    lower: bin / bins,
    upper: (bin + 1) / bins,
    count,
    meanProbability: count > 0 ? probabilitySums[bin]! / count : null,
    clickRate: count > 0 ? labelSums[bin]! / count : null,
  }));
}

/** Share of positive labels. */
export function computeClickRate(labels: ArrayLike<number>): number {
  checkInputs(labels, labels, 'labels');
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  return positives / labels.length;
}

/** Whether both classes occur, i.e. whether AUC is defined. */
export function hasBothClasses(labels: ArrayLike<number>): boolean {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] === 1 ? 1 : 0;
  return positives > 0 && positives < labels.length;
}

/** Every metric of the catalog for one model on one set of examples, with the click rate and count. */
export type BinaryMetrics = MetricValues & {
  clickRate: number;
  count: number;
};

/** AUC, log loss, accuracy at 0.5, 10-bin ECE, click rate and count, from one pass of scores. */
export function computeBinaryMetrics(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
): BinaryMetrics {
  return {
    auc: hasBothClasses(labels) ? computeAuc(labels, probabilities) : null,
    logLoss: computeLogLoss(labels, probabilities),
    accuracy: computeAccuracy(labels, probabilities),
    ece: computeExpectedCalibrationError(labels, probabilities),
    clickRate: computeClickRate(labels),
    count: labels.length,
  };
}
