/**
 * The train/eval split of ingest: by a hash of each row's key (its id, or its whole content without
 * an id column), so it is the same on every run and in every shard. The same digest of an id also
 * finds its copies across shards (see finish.ts), so each row is hashed once.
 */
import { hash } from 'node:crypto';

/** sha256 of a row's key, one-shot (the same digest as a Hash object, at a third of its cost per row). */
export const keyDigest = (key: string): Buffer => hash('sha256', key, 'buffer');

/** The 64-bit hash duplicate detection compares ids by: the digest's first 8 bytes. */
export const idHashOf = (digest: Buffer): bigint => digest.readBigUInt64BE(0);

/** Places a row in eval when its key's digest falls below the eval fraction: stable across runs. */
export function isEvalDigest(digest: Buffer, evalFraction: number): boolean {
  return digest.readUInt32BE(0) / 0x1_0000_0000 < evalFraction;
}

export function isEvalExample(key: string, evalFraction: number): boolean {
  return isEvalDigest(keyDigest(key), evalFraction);
}
