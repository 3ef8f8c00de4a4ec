/** The train/eval split of ingest: by a hash of ad_id, so it is the same on every run and in every shard. */
import { createHash } from 'node:crypto';

/** Places an ad in eval when the hash of its id falls below the eval fraction: stable across runs. */
export function isEvalExample(adId: string, evalFraction: number): boolean {
  const hash = createHash('sha256').update(adId).digest();
  return hash.readUInt32BE(0) / 0x1_0000_0000 < evalFraction;
}
