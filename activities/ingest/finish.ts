/**
 * Finishing a sharded ingest: merge the shards' summaries into one result, and settle duplicate
 * ids across shards (each shard already settled its own).
 *
 * Duplicates: of the rows sharing an id (the spec's id column), the first good one in dataset order (files by name,
 * then line) is kept and every later one is quarantined as `duplicate id`, as within a shard.
 * Finding them holds 8 bytes per accepted row (a 64-bit hash of each id, sorted); only the few
 * colliding ids are then looked up by name. The shards holding a dropped row are rewritten without
 * it into the run's stage folder: shared shard folders are never changed. As the split is by a
 * hash of the id, every copy of an id falls in the same split, so no duplicate can leak an ad from
 * train into eval even before this step.
 */
import { createHash } from 'node:crypto';
import { idHashOf, keyDigest } from './split';
import { joinUri, readJsonIfExists, storageFor } from '../../lib/storage/index';
import { countReason } from '../../lib/dataset/csv-rows';
import { mapBounded } from './pool';
import { DatasetError, type IngestPlan } from './plan';
import type { AcceptedId, ShardOutcome } from './shard';
import type { QuarantinedRow } from '../../contracts/ingest';
import { streamShard, writeShard } from '../../lib/dataset/shards';
import { idOf, type DatasetExample } from '../../lib/dataset/example';

/** Rows of quarantine.jsonl in the stage folder: a sample to read; quarantineUris hold every row. */
export const QUARANTINE_SAMPLE_ROWS = 10_000;
/** Above this, the result would not fit a Temporal payload (2 MB): fewer, larger shards are needed. */
export const MAX_RESULT_JSON_BYTES = 1_500_000;
const READ_CONCURRENCY = 16;

/** Where a shard's outcome is recorded for the run. */
export function shardOutcomeUri(outUri: string, shardIndex: number): string {
  return joinUri(outUri, 'shards', `${String(shardIndex).padStart(5, '0')}.json`);
}

/** The merged outcome of every shard, before it becomes the activity's result. */
export interface MergedIngest {
  rowsRead: number;
  trainRows: number;
  evalRows: number;
  quarantinedRows: number;
  quarantineReasons: Record<string, number>;
  fingerprint: string;
  trainUris: string[];
  evalUris: string[];
  quarantineUris: string[];
  /** A readable sample of the quarantine (see QUARANTINE_SAMPLE_ROWS). */
  quarantineUri: string;
  reusedShards: number;
  duplicatesAcrossShards: number;
}

async function readLines<T>(uri: string): Promise<T[]> {
  const text = (await storageFor(uri).read(uri)).toString('utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

const idHash = (adId: string) => idHashOf(keyDigest(adId));

/** A shard's id hashes, in ids.jsonl order: from id-hashes.bin, or hashed from ids.jsonl in older shards. */
async function readIdHashes(shard: ShardOutcome): Promise<ArrayLike<bigint>> {
  if (!shard.idHashesUri) return (await readLines<AcceptedId>(shard.idsUri)).map(([adId]) => idHash(adId));
  const bytes = await storageFor(shard.idHashesUri).read(shard.idHashesUri);
  const hashes = new BigUint64Array(bytes.length / 8);
  for (let i = 0; i < hashes.length; i++) hashes[i] = bytes.readBigUInt64BE(i * 8);
  return hashes;
}

interface Duplicate {
  shard: ShardOutcome;
  adId: string;
  line: number;
  split: 'train' | 'eval';
}

/** Later copies of ids that more than one shard accepted, each with the first copy's place. */
async function findDuplicates(shards: ShardOutcome[]): Promise<Array<{ drop: Duplicate; kept: Duplicate }>> {
  const offsets: number[] = [];
  let total = 0;
  for (const shard of shards) {
    offsets.push(total);
    total += shard.trainRows + shard.evalRows;
  }
  const hashes = new BigUint64Array(total);
  await mapBounded(shards, READ_CONCURRENCY, async (shard, index) => {
    let at = offsets[index]!;
    const shardHashes = await readIdHashes(shard);
    for (let i = 0; i < shardHashes.length; i++) hashes[at++] = shardHashes[i]!;
  });
  hashes.sort();
  const colliding = new Set<bigint>();
  for (let i = 1; i < hashes.length; i++) if (hashes[i] === hashes[i - 1]) colliding.add(hashes[i]!);
  if (colliding.size === 0) return [];

  const found = await mapBounded(shards, READ_CONCURRENCY, async (shard) =>
    (await readLines<AcceptedId>(shard.idsUri))
      .filter(([adId]) => colliding.has(idHash(adId)))
      .map(([adId, line, split]): Duplicate => ({ shard, adId, line, split })),
  );
  const copies = new Map<string, Duplicate[]>();
  for (const copy of found.flat()) copies.set(copy.adId, [...(copies.get(copy.adId) ?? []), copy]);
  // Shards are in plan order (files by name, then position), so the first copy is the dataset's first.
  return [...copies.values()].flatMap(([kept, ...later]) => later.map((drop) => ({ drop, kept: kept! })));
}

/** Rewrites one split of a shard without the given ids, into the run's folder; returns the new URI. */
async function rewriteWithout(
  plan: IngestPlan,
  uri: string,
  dropped: Set<string>,
  outUri: string,
): Promise<string> {
  const kept: DatasetExample[] = [];
  const { imageSize, spec } = plan;
  for await (const chunk of streamShard(uri)) {
    kept.push(...chunk.examples.filter((example) => !dropped.has(idOf(example, spec)!)));
  }
  await writeShard(outUri, kept, { imageSize, spec });
  return outUri;
}

/** Merges shard outcomes (in plan order) and settles duplicates; writes its files under `outUri`. */
export async function mergeShards(plan: IngestPlan, outUri: string): Promise<MergedIngest> {
  const shards = await mapBounded(
    Array.from({ length: plan.shardCount }, (_, index) => index),
    READ_CONCURRENCY,
    async (index) => {
      const outcome = await readJsonIfExists<ShardOutcome>(shardOutcomeUri(outUri, index));
      if (!outcome)
        throw new DatasetError(`shard ${index} of ${plan.shardCount} was not ingested in this run`);
      if (outcome.trainRows + outcome.evalRows + outcome.quarantinedRows !== outcome.rowsRead) {
        throw new DatasetError(
          `shard ${index} does not account for every row it read: ${JSON.stringify(outcome)}`,
        );
      }
      return outcome;
    },
  );
  const quarantineReasons: Record<string, number> = {};
  const merged: MergedIngest = {
    rowsRead: 0,
    trainRows: 0,
    evalRows: 0,
    quarantinedRows: 0,
    quarantineReasons,
    fingerprint: createHash('sha256')
      .update(shards.map((shard) => shard.fingerprint).join('\n'))
      .digest('hex'),
    trainUris: shards.map((shard) => shard.trainUri),
    evalUris: shards.map((shard) => shard.evalUri),
    quarantineUris: shards.filter((shard) => shard.quarantinedRows > 0).map((shard) => shard.quarantineUri),
    quarantineUri: joinUri(outUri, 'quarantine.jsonl'),
    reusedShards: shards.filter((shard) => shard.reused).length,
    duplicatesAcrossShards: 0,
  };
  for (const shard of shards) {
    merged.rowsRead += shard.rowsRead;
    merged.trainRows += shard.trainRows;
    merged.evalRows += shard.evalRows;
    merged.quarantinedRows += shard.quarantinedRows;
    for (const [kind, count] of Object.entries(shard.quarantineReasons)) {
      quarantineReasons[kind] = (quarantineReasons[kind] ?? 0) + count;
    }
  }

  const duplicates = await findDuplicates(shards);
  const duplicateRows: QuarantinedRow[] = duplicates.map(({ drop, kept }) => ({
    file: drop.shard.file,
    line: drop.line,
    adId: drop.adId,
    reason: `duplicate id: ${plan.spec.id} ${drop.adId} appeared earlier (${kept.shard.file} line ${kept.line})`,
  }));
  if (duplicates.length > 0) {
    const bySplit = new Map<string, Set<string>>();
    for (const { drop } of duplicates) {
      const uri = drop.split === 'train' ? drop.shard.trainUri : drop.shard.evalUri;
      bySplit.set(uri, (bySplit.get(uri) ?? new Set()).add(drop.adId));
      merged[drop.split === 'train' ? 'trainRows' : 'evalRows'] -= 1;
    }
    for (const [list, split] of [
      [merged.trainUris, 'train'],
      [merged.evalUris, 'eval'],
    ] as const) {
      for (let i = 0; i < list.length; i++) {
        const dropped = bySplit.get(list[i]!);
        if (dropped) {
          const name = `${split}-${String(i).padStart(5, '0')}.arrow`;
          list[i] = await rewriteWithout(plan, list[i]!, dropped, joinUri(outUri, 'deduplicated', name));
        }
      }
    }
    const duplicatesUri = joinUri(outUri, 'quarantine-duplicates.jsonl');
    await storageFor(duplicatesUri).write(
      duplicatesUri,
      duplicateRows.map((row) => JSON.stringify(row)).join('\n') + '\n',
    );
    merged.quarantineUris.push(duplicatesUri);
    merged.quarantinedRows += duplicates.length;
    for (const row of duplicateRows) countReason(quarantineReasons, row.reason);
    merged.duplicatesAcrossShards = duplicates.length;
  }

  const sample: QuarantinedRow[] = [];
  for (const uri of merged.quarantineUris) {
    if (sample.length >= QUARANTINE_SAMPLE_ROWS) break;
    sample.push(...(await readLines<QuarantinedRow>(uri)).slice(0, QUARANTINE_SAMPLE_ROWS - sample.length));
  }
  await storageFor(merged.quarantineUri).write(
    merged.quarantineUri,
    sample.map((row) => JSON.stringify(row)).join('\n') + (sample.length ? '\n' : ''),
  );
  return merged;
}
