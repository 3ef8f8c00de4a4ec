/**
 * Pure arithmetic over the prediction servers' cumulative Prometheus counters: the traffic of
 * one version between two snapshots, histogram quantiles and distribution divergence.
 */

/** Cumulative counters of one model version, summed over replicas. Histograms map `le` to a cumulative count. */
export interface VersionTraffic {
  requests: number;
  errors: number;
  latencyBuckets: Record<string, number>;
  scoreBuckets: Record<string, number>;
  feedback: number;
  logLossSum: number;
  /**
   * Sum of the squared per-label log loss, for the window's variance. Absent when a source does not
   * export it (a server older than the counter): unknown, which is not zero once there is feedback.
   */
  logLossSquaredSum?: number;
  /** What the shadow mirror recorded of this version as a shadow, when it was one. */
  shadow?: ShadowTraffic;
}

/**
 * A shadow version's counters: the copies of stable's requests it scored, and the paired
 * differences (shadow − stable) on the same instances and, with feedback, the same labels.
 */
export interface ShadowTraffic {
  requests: number;
  errors: number;
  dropped: number;
  /** Model time of the mirrored requests on each side. */
  shadowLatencyBuckets: Record<string, number>;
  stableLatencyBuckets: Record<string, number>;
  pairs: number;
  scoreDiffSum: number;
  scoreDiffSquaredSum: number;
  feedback: number;
  logLossDiffSum: number;
  logLossDiffSquaredSum: number;
}

export function emptyShadowTraffic(): ShadowTraffic {
  return {
    requests: 0,
    errors: 0,
    dropped: 0,
    shadowLatencyBuckets: {},
    stableLatencyBuckets: {},
    pairs: 0,
    scoreDiffSum: 0,
    scoreDiffSquaredSum: 0,
    feedback: 0,
    logLossDiffSum: 0,
    logLossDiffSquaredSum: 0,
  };
}

/** Shadow counters combined field by field: `op` adds (replicas) or differences (snapshots). */
function combineShadow(
  a: ShadowTraffic | undefined,
  b: ShadowTraffic | undefined,
  op: (x: number, y: number) => number,
): ShadowTraffic | undefined {
  if (!a && !b) return undefined;
  const x = a ?? emptyShadowTraffic();
  const y = b ?? emptyShadowTraffic();
  const buckets = (p: Record<string, number>, q: Record<string, number>) =>
    Object.fromEntries(
      [...new Set([...Object.keys(p), ...Object.keys(q)])].map((le) => [le, op(p[le] ?? 0, q[le] ?? 0)]),
    );
  return {
    requests: op(x.requests, y.requests),
    errors: op(x.errors, y.errors),
    dropped: op(x.dropped, y.dropped),
    shadowLatencyBuckets: buckets(x.shadowLatencyBuckets, y.shadowLatencyBuckets),
    stableLatencyBuckets: buckets(x.stableLatencyBuckets, y.stableLatencyBuckets),
    pairs: op(x.pairs, y.pairs),
    scoreDiffSum: op(x.scoreDiffSum, y.scoreDiffSum),
    scoreDiffSquaredSum: op(x.scoreDiffSquaredSum, y.scoreDiffSquaredSum),
    feedback: op(x.feedback, y.feedback),
    logLossDiffSum: op(x.logLossDiffSum, y.logLossDiffSum),
    logLossDiffSquaredSum: op(x.logLossDiffSquaredSum, y.logLossDiffSquaredSum),
  };
}

/** Counters of every version as one source reported them. */
export type VersionCounters = Record<string, VersionTraffic>;

/**
 * Counters per source, then per version. A source is one process (a replica URL plus its start
 * time), so a replica that restarts appears as a new source and its reset counters are never
 * subtracted from the old ones.
 */
export type TrafficSnapshot = Record<string, VersionCounters>;

export function emptyTraffic(): VersionTraffic {
  return { requests: 0, errors: 0, latencyBuckets: {}, scoreBuckets: {}, feedback: 0, logLossSum: 0 };
}

/** The squared log-loss sum, or undefined when unknown; without feedback it can only be 0. */
export function knownLogLossSquaredSum(traffic: VersionTraffic): number | undefined {
  return traffic.logLossSquaredSum ?? (traffic.feedback === 0 ? 0 : undefined);
}

/**
 * `{ logLossSquaredSum }` when there is feedback and the sum is known, else nothing: unknown stays
 * absent rather than a misleading 0, and without feedback it is implied 0, as in a scrape.
 */
function squaredSumField(
  feedback: number,
  value: number | undefined,
): Pick<VersionTraffic, 'logLossSquaredSum'> {
  return feedback === 0 || value === undefined ? {} : { logLossSquaredSum: value };
}

/** Sums two cumulative histograms bucket by bucket. */
export function addBuckets(x: Record<string, number>, y: Record<string, number>): Record<string, number> {
  const sum = { ...x };
  for (const [le, count] of Object.entries(y)) sum[le] = (sum[le] ?? 0) + count;
  return sum;
}

/** Adds `b` into `a` (replicas' counters are summed); the squared sum is known only if both are. */
export function addTraffic(a: VersionTraffic, b: VersionTraffic): VersionTraffic {
  const squaredA = knownLogLossSquaredSum(a);
  const squaredB = knownLogLossSquaredSum(b);
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    latencyBuckets: addBuckets(a.latencyBuckets, b.latencyBuckets),
    scoreBuckets: addBuckets(a.scoreBuckets, b.scoreBuckets),
    feedback: a.feedback + b.feedback,
    logLossSum: a.logLossSum + b.logLossSum,
    ...squaredSumField(
      a.feedback + b.feedback,
      squaredA === undefined || squaredB === undefined ? undefined : squaredA + squaredB,
    ),
    ...shadowField(combineShadow(a.shadow, b.shadow, (x, y) => x + y)),
  };
}

const shadowField = (shadow: ShadowTraffic | undefined): Pick<VersionTraffic, 'shadow'> =>
  shadow ? { shadow } : {};

/** What one source saw of one version between two snapshots; a counter that went down restarted, so all of it counts. */
function sourceWindow(before: VersionTraffic, after: VersionTraffic): VersionTraffic {
  const counts = (t: VersionTraffic) => [
    t.requests,
    t.feedback,
    t.shadow?.requests ?? 0,
    t.shadow?.pairs ?? 0,
    t.shadow?.feedback ?? 0,
  ];
  const [a, b] = [counts(after), counts(before)];
  // Any count that went down means the source restarted (a cluster worker, say): all of it counts.
  const restarted = a.some((count, i) => count < b[i]!);
  if (restarted) return after;
  const delta = (x: number, y: number) => Math.max(0, y - x);
  const deltaBuckets = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(Object.entries(y).map(([le, count]) => [le, delta(x[le] ?? 0, count)]));
  const requests = delta(before.requests, after.requests);
  const feedback = delta(before.feedback, after.feedback);
  const squaredBefore = knownLogLossSquaredSum(before);
  const squaredAfter = knownLogLossSquaredSum(after);
  return {
    requests,
    errors: Math.min(requests, delta(before.errors, after.errors)),
    latencyBuckets: deltaBuckets(before.latencyBuckets, after.latencyBuckets),
    scoreBuckets: deltaBuckets(before.scoreBuckets, after.scoreBuckets),
    feedback,
    logLossSum: delta(before.logLossSum, after.logLossSum),
    ...squaredSumField(
      feedback,
      squaredBefore === undefined || squaredAfter === undefined
        ? undefined
        : delta(squaredBefore, squaredAfter),
    ),
    // Sums of differences may fall as well as rise: differenced as they are, not clamped at 0.
    ...shadowField(combineShadow(after.shadow, before.shadow, (x, y) => x - y)),
  };
}

/** What one version did between two snapshots, differenced per source and then summed. */
export function trafficWindow(
  baseline: TrafficSnapshot,
  current: TrafficSnapshot,
  version: string,
): VersionTraffic {
  let total = emptyTraffic();
  for (const [source, versions] of Object.entries(current)) {
    const after = versions[version];
    if (!after) continue;
    total = addTraffic(total, sourceWindow(baseline[source]?.[version] ?? emptyTraffic(), after));
  }
  return total;
}

/** Sorted [upper bound, cumulative count] pairs; `+Inf` sorts last. */
function sortedBuckets(buckets: Record<string, number>): Array<[number, number]> {
  return Object.entries(buckets)
    .map(([le, count]): [number, number] => [le === '+Inf' ? Infinity : Number(le), count])
    .filter(([le]) => !Number.isNaN(le))
    .sort((a, b) => a[0] - b[0]);
}

/** The q-quantile of a cumulative histogram, interpolated within a bucket as Prometheus does; undefined when empty. */
export function histogramQuantile(buckets: Record<string, number>, q: number): number | undefined {
  const total = histogramCount(buckets);
  return total === 0 ? undefined : histogramValueAtRank(buckets, q * total);
}

/**
 * The value of the observation of this rank (1 = smallest) in a cumulative histogram, interpolated
 * within its bucket; one in the +Inf bucket reads as the highest finite bound. Undefined when empty.
 */
export function histogramValueAtRank(buckets: Record<string, number>, rank: number): number | undefined {
  const sorted = sortedBuckets(buckets);
  if ((sorted.at(-1)?.[1] ?? 0) === 0) return undefined;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return previousBound;
      const inBucket = count - previousCount;
      return inBucket === 0
        ? bound
        : previousBound + (bound - previousBound) * ((rank - previousCount) / inBucket);
    }
    previousBound = bound;
    previousCount = count;
  }
  return previousBound;
}

/**
 * How many observations of a cumulative histogram lie above `value`, spreading each bucket's
 * observations evenly over it; those in the +Inf bucket count as above any finite bound.
 */
export function histogramCountAbove(buckets: Record<string, number>, value: number): number {
  const sorted = sortedBuckets(buckets);
  const total = sorted.at(-1)?.[1] ?? 0;
  let previousBound = 0;
  let previousCount = 0;
  for (const [bound, count] of sorted) {
    if (value < bound) {
      if (bound === Infinity) return total - previousCount;
      const share = Math.max(0, (value - previousBound) / (bound - previousBound));
      return total - (previousCount + (count - previousCount) * share);
    }
    previousBound = bound;
    previousCount = count;
  }
  return 0;
}

/** The bucket bounds of two histograms together, ascending (`+Inf` as Infinity). */
export function sharedBounds(a: Record<string, number>, b: Record<string, number>): number[] {
  return [...new Set([...sortedBuckets(a), ...sortedBuckets(b)].map(([le]) => le))].sort((x, y) => x - y);
}

/** Observations per bin (not cumulative) of a cumulative histogram, over the given ascending bounds. */
export function binCounts(buckets: Record<string, number>, bounds: readonly number[]): number[] {
  const sorted = sortedBuckets(buckets);
  // A bound this histogram lacks holds what it holds at its next lower bound.
  const cumulative = bounds.map((bound) => {
    let count = 0;
    for (const [le, atOrBelow] of sorted) if (le <= bound) count = atOrBelow;
    return count;
  });
  return cumulative.map((count, i) => count - (i === 0 ? 0 : cumulative[i - 1]!));
}

/**
 * Per-bin probabilities of a cumulative histogram, lightly smoothed so empty bins do not divide by
 * zero. (Unchanged since rollouts were first recorded: their score verdicts replay on it.)
 */
function binProbabilities(buckets: Record<string, number>, bounds: number[]): number[] {
  const cumulative = bounds.map((bound) => sortedBuckets(buckets).find(([le]) => le === bound)?.[1] ?? 0);
  const bins = cumulative.map((count, i) => count - (i === 0 ? 0 : cumulative[i - 1]!));
  const total = bins.reduce((sum, count) => sum + count, 0);
  const smoothing = 0.5;
  return bins.map((count) => (count + smoothing) / (total + smoothing * bins.length));
}

/** Number of observations in a cumulative histogram. */
export function histogramCount(buckets: Record<string, number>): number {
  return sortedBuckets(buckets).at(-1)?.[1] ?? 0;
}

/**
 * Jensen-Shannon divergence (base 2, so 0 = identical and 1 = disjoint) between the distributions
 * of two cumulative histograms with the same bucket bounds.
 */
export function jensenShannonDivergence(a: Record<string, number>, b: Record<string, number>): number {
  const bounds = sharedBounds(a, b);
  const p = binProbabilities(a, bounds);
  const q = binProbabilities(b, bounds);
  const kl = (x: number[], m: number[]) => x.reduce((sum, xi, i) => sum + xi * Math.log2(xi / m[i]!), 0);
  const m = p.map((pi, i) => (pi + q[i]!) / 2);
  return Math.max(0, 0.5 * kl(p, m) + 0.5 * kl(q, m));
}
