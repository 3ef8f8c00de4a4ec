/**
 * A bounded, mergeable histogram of numeric values, the basis of quantiles and PSI binning.
 *
 * Bins are aligned at multiples of a power-of-two width: value x falls in bin floor(x / width).
 * The width starts tiny, so integers (and any value set of at most `maxBins` distinct values) get
 * a bin each and every statistic drawn from the histogram is exact; once more than `maxBins` bins
 * are occupied the width doubles, which merges bins pairwise exactly. Memory stays O(maxBins)
 * whatever the number of rows, and the final width depends on the values, not on their order.
 */

/** Default bin budget: more than the 1001 values of `headline_length` (0..1000), so it stays exact. */
export const DEFAULT_MAX_BINS = 2048;
/** Smallest width, 2^-20 ≈ 1e-6: fine enough that distinct values of real data get distinct bins. */
const MIN_EXPONENT = -20;

/** The JSON form stored in statistics.json: each occupied bin's lower bound and count, ascending. */
export interface HistogramJson {
  binWidth: number;
  bins: Array<[lowerBound: number, count: number]>;
}

export class NumericHistogram {
  private exponent = MIN_EXPONENT;
  private bins = new Map<number, number>();

  constructor(private readonly maxBins = DEFAULT_MAX_BINS) {}

  get binWidth(): number {
    return 2 ** this.exponent;
  }

  /** Adds `count` occurrences of a finite value. */
  add(value: number, count = 1): void {
    let bin = Math.floor(value / this.binWidth);
    // Beyond ~1e302 the tiny width overflows to Infinity; a wider one does not.
    while (!Number.isFinite(bin)) {
      this.coarsen(true);
      bin = Math.floor(value / this.binWidth);
    }
    this.bins.set(bin, (this.bins.get(bin) ?? 0) + count);
    if (this.bins.size > this.maxBins) this.coarsen();
  }

  /** Adds another histogram's counts (for statistics computed shard by shard). */
  merge(other: NumericHistogram): void {
    while (this.exponent < other.exponent) this.coarsen(true);
    const shift = 2 ** (this.exponent - other.exponent);
    for (const [bin, count] of other.bins) {
      const target = Math.floor(bin / shift);
      this.bins.set(target, (this.bins.get(target) ?? 0) + count);
    }
    while (this.bins.size > this.maxBins) this.coarsen();
  }

  toJSON(): HistogramJson {
    const width = this.binWidth;
    return {
      binWidth: width,
      bins: [...this.bins].sort(([a], [b]) => a - b).map(([bin, count]) => [bin * width, count]),
    };
  }

  /** Doubles the width until the bins fit (or once, when `once`). */
  private coarsen(once = false): void {
    do {
      const merged = new Map<number, number>();
      for (const [bin, count] of this.bins) {
        const target = Math.floor(bin / 2);
        merged.set(target, (merged.get(target) ?? 0) + count);
      }
      this.bins = merged;
      this.exponent += 1;
    } while (!once && this.bins.size > this.maxBins);
  }
}

/**
 * Upper edges that cut a histogram into `buckets` parts of about equal mass (its quantiles),
 * duplicates removed: discrete data may have fewer distinct edges. Bucket i holds the values
 * v with edges[i-1] < v ≤ edges[i]; the last bucket everything above the last edge.
 */
export function quantileEdges(histogram: HistogramJson, buckets: number): number[] {
  const total = histogram.bins.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0 || buckets < 2) return [];
  const edges: number[] = [];
  let cumulative = 0;
  let next = 1;
  for (const [lower, count] of histogram.bins) {
    cumulative += count;
    // An edge at the bin holding the q-quantile; several quantiles in one bin give one edge.
    while (next < buckets && cumulative >= (next / buckets) * total) {
      if (edges.at(-1) !== lower) edges.push(lower);
      next += 1;
    }
  }
  // The top bin as an edge would leave the last bucket empty by construction.
  const top = histogram.bins.at(-1)?.[0];
  return edges.filter((edge) => edge !== top);
}

/** Counts of a histogram's values per bucket of `edges` (see quantileEdges); length edges.length + 1. */
export function bucketCounts(histogram: HistogramJson, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  let bucket = 0;
  for (const [lower, count] of histogram.bins) {
    // Bins are ascending, so the bucket index only moves forward.
    while (bucket < edges.length && lower > edges[bucket]!) bucket += 1;
    counts[bucket]! += count;
  }
  return counts;
}

/** Sum of the counts of bins whose values lie outside [low, high], judged by each bin's lower bound. */
export function countOutside(histogram: HistogramJson, low: number, high: number): number {
  let outside = 0;
  for (const [lower, count] of histogram.bins) {
    if (lower < low || lower > high) outside += count;
  }
  return outside;
}
