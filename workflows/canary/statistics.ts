/**
 * The tests the canary judge weighs its evidence with: each says how likely the canary's numbers
 * would be by chance if it were no worse than stable, so a few dozen noisy requests cannot fail a
 * good model. Pure and workflow-safe.
 */

/** P(X ≥ k) for X ~ Binomial(n, p): how likely k or more errors in n requests are by chance. */
export function binomialTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  // Sum the lower tail term by term, each log pmf(i + 1) from log pmf(i): no factorials, and no
  // underflow of pmf(0) = (1 - p)^n for large n silently zeroing every later term.
  // (Unchanged since rollouts were first recorded: their early-failure verdicts replay on it.)
  const logOdds = Math.log(p) - Math.log1p(-p);
  let logPmf = n * Math.log1p(-p);
  let below = 0;
  for (let i = 0; i < k; i++) {
    below += Math.exp(logPmf);
    logPmf += Math.log(n - i) - Math.log(i + 1) + logOdds;
  }
  return Math.max(0, 1 - below);
}

/**
 * binomialTail for messages: when 1 − (lower tail) rounds to nothing, the upper tail summed from k
 * until its terms vanish, so a p of 1e-24 reads as that, not 0. O(k) plus a few terms.
 */
export function binomialTailForReport(n: number, k: number, p: number): number {
  const tail = binomialTail(n, k, p);
  if (tail > 1e-9 || k <= 0 || k > n || p <= 0 || p >= 1) return tail;
  const logOdds = Math.log(p) - Math.log1p(-p);
  let logPmf = n * Math.log1p(-p);
  for (let i = 0; i < k; i++) logPmf += Math.log(n - i) - Math.log(i + 1) + logOdds;
  let above = 0;
  for (let i = k; i <= n; i++) {
    const term = Math.exp(logPmf);
    above += term;
    if (term < above * 1e-16) break;
    logPmf += Math.log(n - i) - Math.log(i + 1) + logOdds;
  }
  return above;
}

/**
 * P(Z ≥ z) for a standard normal Z: erfc(z/√2)/2 by Numerical Recipes' Chebyshev fit (relative
 * error below 1.2e-7), plenty for turning a z threshold into a p-value.
 */
export function normalUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(-x * x + poly);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/**
 * The standard normal z of a chi-squared statistic with `df` degrees of freedom (Wilson–Hilferty:
 * the cube root of χ²/df is close to normal), so a G-test reads on the same scale as the others.
 */
export function chiSquaredZ(statistic: number, df: number): number {
  if (df <= 0) return 0;
  const h = 2 / (9 * df);
  return (Math.cbrt(Math.max(0, statistic) / df) - (1 - h)) / Math.sqrt(h);
}

/**
 * The exceedance test (Gumbel & von Schelling): of `nc` and `ns` draws from one continuous
 * distribution, the probability that `k` or more of the `nc` exceed the `j`-th largest of the
 * `ns`. Distribution-free and exact for any sample sizes, so a tail quantile of a small canary
 * sample is weighed by how much evidence it really is:
 * P(K = i) = C(j − 1 + i, i) · C(ns − j + nc − i, nc − i) / C(ns + nc, nc).
 */
export function exceedanceTail(ns: number, j: number, nc: number, k: number): number {
  if (k <= 0) return 1;
  if (k > nc || j < 1 || j > ns) return 0;
  // log P(K = 0) = log C(ns − j + nc, nc) − log C(ns + nc, nc), then each term from the previous one.
  let logTerm = 0;
  for (let i = 0; i < j; i++) logTerm += Math.log(ns - i) - Math.log(ns + nc - i);
  let tail = 0;
  for (let i = 0; i < nc; i++) {
    if (i >= k) tail += Math.exp(logTerm);
    logTerm += Math.log(j + i) - Math.log(i + 1) + Math.log(nc - i) - Math.log(ns - j + nc - i);
  }
  if (nc >= k) tail += Math.exp(logTerm); // i = nc
  return Math.min(1, tail);
}

/**
 * Merges adjacent bins of two binned samples until each holds at least `minExpected` expected
 * observations of the smaller sample (Cochran's rule for chi-squared tests: sparse bins make the
 * G-test see differences that are chance, and the divergence of sparse bins is biased upwards).
 */
export function mergeSparseBins(
  a: readonly number[],
  b: readonly number[],
  minExpected = 5,
): [number[], number[]] {
  const na = a.reduce((sum, x) => sum + x, 0);
  const nb = b.reduce((sum, x) => sum + x, 0);
  const smallerShare = Math.min(na, nb) / Math.max(1, na + nb);
  const mergedA: number[] = [];
  const mergedB: number[] = [];
  let binA = 0;
  let binB = 0;
  for (let i = 0; i < a.length; i++) {
    binA += a[i]!;
    binB += b[i] ?? 0;
    if ((binA + binB) * smallerShare >= minExpected) {
      mergedA.push(binA);
      mergedB.push(binB);
      binA = binB = 0;
    }
  }
  // What is left joins the last bin (or is the only one).
  if (binA + binB > 0 || mergedA.length === 0) {
    if (mergedA.length === 0) {
      mergedA.push(0);
      mergedB.push(0);
    }
    mergedA[mergedA.length - 1]! += binA;
    mergedB[mergedB.length - 1]! += binB;
  }
  return [mergedA, mergedB];
}

/**
 * The G-test of homogeneity of two binned samples (2 × bins table): G = 2 Σ O ln(O / E), which is
 * 2 N ln 2 times their sample-weighted Jensen-Shannon divergence; χ² with (bins in use − 1)
 * degrees of freedom when both come from one distribution.
 */
export function gTest(a: readonly number[], b: readonly number[]): { statistic: number; df: number } {
  const na = a.reduce((sum, x) => sum + x, 0);
  const nb = b.reduce((sum, x) => sum + x, 0);
  const n = na + nb;
  let statistic = 0;
  let used = 0;
  for (let i = 0; i < a.length; i++) {
    const pooled = a[i]! + (b[i] ?? 0);
    if (pooled === 0) continue;
    used++;
    for (const [observed, sideTotal] of [
      [a[i]!, na],
      [b[i] ?? 0, nb],
    ] as const) {
      if (observed > 0) statistic += 2 * observed * Math.log(observed / ((pooled * sideTotal) / n));
    }
  }
  return { statistic: Math.max(0, statistic), df: Math.max(0, used - 1) };
}

/** A p-value for messages: 3 significant digits, tiny ones in exponent form. */
export function formatP(p: number): string {
  return p >= 0.001 ? p.toPrecision(2) : p.toExponential(1);
}
