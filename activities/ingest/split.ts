/**
 * The train/eval split of ingest: by a hash of each row's key (its id, or its whole content without
 * an id column), so it is the same on every run and in every shard.
 */
import { hash } from 'node:crypto';

/** Places a row in eval when the hash of its key falls below the eval fraction: stable across runs. */
export function isEvalExample(key: string, evalFraction: number): boolean {
  // One-shot sha256: the same digest as a Hash object, at a third of its cost per row.
  return hash('sha256', key, 'buffer').readUInt32BE(0) / 0x1_0000_0000 < evalFraction;
}
