/**
 * A 32-bit string hash shared by the distinct-count sketch and the model's hashed features. Models
 * saved with hashed buckets depend on it: changing it changes their inputs, so it never changes.
 */

/** FNV-1a over UTF-16 code units, then a final avalanche so values that differ at the end land far apart. */
export function hash32(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
