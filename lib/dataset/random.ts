/** Seeded randomness shared by the synthetic dataset and the training loop. */

/**
 * A seeded PRNG (mulberry32) returning floats in [0, 1): tiny, fast and identical on every
 * platform, so the same seed gives the same dataset and the same training shuffles everywhere.
 */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
