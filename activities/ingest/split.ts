/**
 * The train/eval split of ingest: by a hash of each row's key (its id, or its whole content without
 * an id column), so it is the same on every run and in every shard.
 */
import { createHash } from 'node:crypto';

/** Places a row in eval when the hash of its key falls below the eval fraction: stable across runs. */
export function isEvalExample(key: string, evalFraction: number): boolean {
  const hash = createHash('sha256').update(key).digest();
  return hash.readUInt32BE(0) / 0x1_0000_0000 < evalFraction;
}
