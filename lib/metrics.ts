/** Binary-classification metrics for evaluation and canary analysis: ROC AUC, log loss, accuracy, calibration. */

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

/**
 * Expected calibration error: examples binned by probability into `bins` equal-width bins over [0, 1]
 * (1.0 falls in the last), then the mean |mean probability − click rate| of the bins, weighted by their size.
 */
export function computeExpectedCalibrationError(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  bins = 10,
): number {
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
  let total = 0;
  for (let bin = 0; bin < bins; bin++) {
    // |Σp − Σy| / n  equals  (n_bin / n) · |mean p − mean y| of the bin.
    total += Math.abs(probabilitySums[bin]! - labelSums[bin]!);
  }
  return total / labels.length;
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

/** Every metric evaluation reports for one model on one set of examples. */
export interface BinaryMetrics {
  /** Null when only one class is present, where AUC is undefined. */
  auc: number | null;
  logLoss: number;
  accuracy: number;
  ece: number;
  clickRate: number;
  count: number;
}

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
