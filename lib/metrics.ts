/** Binary-classification metrics for evaluation and canary analysis: ROC AUC and log loss. */

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
