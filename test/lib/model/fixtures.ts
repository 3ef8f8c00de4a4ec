/** Small labelled examples with a learnable image signal, and shard writing, for model tests. */
import type { AdExample } from '../../../lib/dataset/schema';

/**
 * Random pixels plus a bright top-left patch on clicked ads and a dark one on the rest; headline_length
 * is the row number, so a test can tell rows apart after encoding.
 */
export function makeExamples(count: number, seed: number, imageSize: number): AdExample[] {
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  return Array.from({ length: count }, (_, i) => {
    const clicked = random() < 0.5 ? 1 : 0;
    const pixels = Uint8Array.from({ length: imageSize * imageSize * 3 }, () => Math.floor(random() * 256));
    for (let y = 0; y < imageSize / 2; y++) {
      for (let x = 0; x < imageSize / 2; x++) {
        pixels.fill(clicked ? 255 : 0, (y * imageSize + x) * 3, (y * imageSize + x) * 3 + 3);
      }
    }
    return {
      ad_id: `ad-${i}`,
      clicked,
      pixels,
      advertiser: ['acme', 'globex', 'initech'][i % 3]!,
      category: ['shoes', 'travel'][i % 2]!,
      placement: random() < 0.5 ? 'feed' : 'sidebar',
      device: random() < 0.5 ? 'mobile' : 'desktop',
      hour: Math.floor(random() * 24),
      headline_length: i,
    };
  });
}
