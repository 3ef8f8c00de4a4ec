/**
 * Ingesting one shard of a plan: parse its byte range, fetch and decode its images, and write
 * train/eval Arrow files, its quarantine and its accepted ids into a content-addressed folder of
 * the store, `done.json` last. The folder is keyed by everything the outputs depend on (the
 * range's bytes, its place in its file, the image bytes, the ingest parameters), so any run on the
 * same data finds and reuses it, and a crash leaves either a finished folder or no done.json.
 */
import { createHash } from 'node:crypto';
import { joinUri, readJsonIfExists, storageFor, writeJson } from '../../lib/storage/index';
import { bufferChunks, readCsvBatches } from '../../lib/dataset/csv-records';
import { parentUri, readByteRange } from '../../lib/dataset/csv-files';
import { countReason } from '../../lib/dataset/csv-rows';
import { checkRow, rowReaderFor, type RowCheck } from '../../lib/dataset/spec-rows';
import { fetchImages, type ImageOutcome } from './images';
import { DatasetError, dialectOf, INGEST_PLAN_VERSION, type IngestParameters, type ShardSpec } from './plan';
import { idHashOf, isEvalDigest, keyDigest } from './split';
import type { QuarantinedRow } from '../../contracts/ingest';
import { DATASET_SCHEMA_VERSION } from '../../contracts/ingest';
import { imageColumnOf } from '../../lib/dataset/example';
import { writeShardColumns } from '../../lib/dataset/shards';

/**
 * One accepted row in ids.jsonl: [id, line, split], for duplicate detection across shards. Beside
 * it, id-hashes.bin holds each id's 64-bit hash (idHashOf) in the same order, which is all that
 * finishing needs unless two hashes collide.
 */
export type AcceptedId = [id: string, line: number, split: 'train' | 'eval'];

/** done.json of a shard folder: what it holds. */
export interface ShardSummary {
  version: number;
  file: string;
  /** sha256 over the range's place, its bytes and every image it read: the shard's content. */
  fingerprint: string;
  rowsRead: number;
  trainRows: number;
  evalRows: number;
  quarantinedRows: number;
  quarantineReasons: Record<string, number>;
}

/** What ingesting a shard gave: its summary and where its outputs are. */
export interface ShardOutcome extends ShardSummary {
  shardIndex: number;
  trainUri: string;
  evalUri: string;
  quarantineUri: string;
  idsUri: string;
  /** The ids' hashes as big-endian 64-bit integers; absent in shards written before it existed. */
  idHashesUri?: string;
  /** True when an earlier run (or attempt) had already written this shard. */
  reused: boolean;
}

export interface IngestShardOptions {
  storeUri: string;
  parameters: IngestParameters;
  spec: ShardSpec;
  imageConcurrency: number;
  signal?: AbortSignal;
  /** Called now and then with what is done: for heartbeats. */
  onProgress?: (progress: { phase: 'hashing' | 'decoding'; images: number }) => void;
}

/** Root of the content-addressed shard folders in a store. */
export function shardCacheUri(storeUri: string): string {
  return joinUri(storeUri, 'datasets', 'shards');
}

const sha256 = (...parts: Array<string | Buffer>) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

interface ParsedRow {
  line: number;
  check: RowCheck;
}

/** The range's rows, checked against the spec; unreadable lines come back as rows with a reason. */
async function parseRange(
  range: Buffer,
  spec: ShardSpec,
  parameters: IngestParameters,
): Promise<{ rows: ParsedRow[]; cellCount: number }> {
  const bound = rowReaderFor(spec.csvUri, parameters.spec, spec.header, {
    labelOptional: parameters.unlabelled === true,
  });
  if ('problem' in bound) throw new DatasetError(bound.problem);
  const rows: ParsedRow[] = [];
  for await (const batch of readCsvBatches(bufferChunks(range), {
    byteOffset: spec.start,
    lineOffset: spec.lineOffset,
    ...dialectOf(parameters.spec),
  })) {
    for (const item of batch) {
      rows.push({
        line: item.line,
        check: item.kind === 'record' ? checkRow(item.fields, bound.reader) : { reason: item.reason },
      });
    }
  }
  if (rows.length !== spec.rows) {
    throw new DatasetError(
      `${spec.file}: shard ${spec.index} has ${rows.length} rows, the plan counted ${spec.rows}`,
    );
  }
  return { rows, cellCount: bound.reader.cells.length };
}

/** sha256 over each row's image, in row order: changes when any image does. */
function imagesDigest(rows: ParsedRow[], images: ImageOutcome[]): string {
  const hash = createHash('sha256');
  let next = 0;
  for (const { line, check } of rows) {
    if (!('values' in check) || check.imageRef === undefined) continue;
    hash.update(`${line}\t${check.imageRef}\t${images[next++]!.hash}\n`);
  }
  return hash.digest('hex');
}

function bigEndianBytes(values: bigint[]): Buffer {
  const bytes = Buffer.allocUnsafe(values.length * 8);
  for (let i = 0; i < values.length; i++) bytes.writeBigUInt64BE(values[i]!, i * 8);
  return bytes;
}

function jsonLines(values: unknown[]): string {
  return values.map((value) => JSON.stringify(value)).join('\n') + (values.length ? '\n' : '');
}

/** One split's rows as shard columns (see writeShardColumns): the reader's cells, then the pixels. */
class SplitColumns {
  readonly values: unknown[][];
  rows = 0;
  constructor(cellCount: number, withPixels: boolean) {
    this.values = Array.from({ length: cellCount + (withPixels ? 1 : 0) }, () => []);
  }
  push(values: readonly unknown[], pixels: Uint8Array | undefined): void {
    for (let index = 0; index < values.length; index++) this.values[index]!.push(values[index]);
    if (pixels) this.values[values.length]!.push(pixels);
    this.rows += 1;
  }
}

/** Splits checked rows into train, eval and quarantine; of rows sharing an id the first good one stays. */
function sortRows(
  rows: ParsedRow[],
  images: ImageOutcome[],
  spec: ShardSpec,
  { evalFraction, spec: featureSpec }: IngestParameters,
  cellCount: number,
) {
  const withPixels = imageColumnOf(featureSpec) !== undefined;
  const train = new SplitColumns(cellCount, withPixels);
  const evaluation = new SplitColumns(cellCount, withPixels);
  const quarantine: QuarantinedRow[] = [];
  const ids: AcceptedId[] = [];
  const idHashes: bigint[] = [];
  const firstLine = new Map<string, number>();
  const idColumn = featureSpec.id;
  let next = 0;
  for (const { line, check } of rows) {
    if (!('values' in check)) {
      quarantine.push({
        file: spec.file,
        line,
        ...(check.id ? { adId: check.id } : {}),
        reason: check.reason,
      });
      continue;
    }
    const id = check.id;
    const withId = id === undefined ? {} : { adId: id };
    let pixels: Uint8Array | undefined;
    if (check.imageRef !== undefined) {
      const image = images[next++]!;
      if (!image.pixels) {
        quarantine.push({ file: spec.file, line, ...withId, reason: image.reason! });
        continue;
      }
      pixels = image.pixels;
    }
    if (id !== undefined) {
      const earlier = firstLine.get(id);
      if (earlier !== undefined) {
        quarantine.push({
          file: spec.file,
          line,
          ...withId,
          reason: `duplicate id: ${idColumn} ${id} appeared earlier (${spec.file} line ${earlier})`,
        });
        continue;
      }
      firstLine.set(id, line);
    }
    // With an id the split key is the id, so its digest is also the id's hash.
    const digest = keyDigest(check.splitKey);
    const inEval = isEvalDigest(digest, evalFraction);
    (inEval ? evaluation : train).push(check.values, pixels);
    if (id !== undefined) {
      ids.push([id, line, inEval ? 'eval' : 'train']);
      idHashes.push(idHashOf(digest));
    }
  }
  return { train, evaluation, quarantine, ids, idHashes };
}

function outcomeOf(dirUri: string, shardIndex: number, summary: ShardSummary, reused: boolean): ShardOutcome {
  return {
    ...summary,
    shardIndex,
    trainUri: joinUri(dirUri, 'train.arrow'),
    evalUri: joinUri(dirUri, 'eval.arrow'),
    quarantineUri: joinUri(dirUri, 'quarantine.jsonl'),
    idsUri: joinUri(dirUri, 'ids.jsonl'),
    idHashesUri: joinUri(dirUri, 'id-hashes.bin'),
    reused,
  };
}

/**
 * Ingests one shard, or finds it already ingested. Memory holds one shard: its bytes, its parsed
 * rows and its decoded pixels (shardRows × imageSize² × 3 bytes), whatever the dataset's size.
 */
export async function ingestShardData(options: IngestShardOptions): Promise<ShardOutcome> {
  const { storeUri, parameters, spec, imageConcurrency, signal, onProgress } = options;
  let range: Buffer;
  try {
    range = await readByteRange(spec.csvUri, spec.start, spec.end);
  } catch (err) {
    if (err instanceof RangeError)
      throw new DatasetError(`${err.message} since ingest planned it; start again`);
    throw err;
  }
  if (sha256(range) !== spec.sha256) {
    throw new DatasetError(
      `${spec.csvUri} changed since ingest planned it (bytes ${spec.start}-${spec.end}); start again`,
    );
  }
  const place = JSON.stringify({ file: spec.file, header: spec.header, lineOffset: spec.lineOffset });
  const settings = JSON.stringify({
    plan: INGEST_PLAN_VERSION,
    schema: DATASET_SCHEMA_VERSION,
    spec: parameters.spec,
    imageSize: parameters.imageSize,
    evalFraction: parameters.evalFraction,
    // Scoring rows keep what training quarantines (no label): other shards. Absent otherwise, so
    // shards ingested before this setting existed are still found.
    ...(parameters.unlabelled ? { unlabelled: true } : {}),
  });
  const csvKey = sha256(settings, '\n', place, '\n', spec.sha256).slice(0, 32);
  const csvFolder = joinUri(shardCacheUri(storeUri), csvKey);
  const { rows, cellCount } = await parseRange(range, spec, parameters);
  const jobs: Array<{ ref: string }> = [];
  for (const { check } of rows)
    if ('values' in check && check.imageRef !== undefined) jobs.push({ ref: check.imageRef });
  const fetchOptions = { baseUri: parentUri(spec.csvUri), concurrency: imageConcurrency, signal };
  const folderOf = (digest: string) => joinUri(csvFolder, digest.slice(0, 32));

  // Only when this range was ingested before: hash its images (no decoding) to find the folder.
  const storage = storageFor(csvFolder);
  const earlier = (await storage.list(csvFolder)).some((uri) => uri.endsWith('done.json'));
  if (earlier) {
    const hashes = await fetchImages(jobs, {
      ...fetchOptions,
      onProgress: (images) => onProgress?.({ phase: 'hashing', images }),
    });
    const dirUri = folderOf(imagesDigest(rows, hashes));
    const summary = await readJsonIfExists<ShardSummary>(joinUri(dirUri, 'done.json'));
    if (summary) return outcomeOf(dirUri, spec.index, summary, true);
  }

  const images = await fetchImages(jobs, {
    ...fetchOptions,
    imageSize: parameters.imageSize,
    onProgress: (done) => onProgress?.({ phase: 'decoding', images: done }),
  });
  const digest = imagesDigest(rows, images);
  const dirUri = folderOf(digest);
  const { train, evaluation, quarantine, ids, idHashes } = sortRows(
    rows,
    images,
    spec,
    parameters,
    cellCount,
  );
  const quarantineReasons: Record<string, number> = {};
  for (const row of quarantine) countReason(quarantineReasons, row.reason);
  const summary: ShardSummary = {
    version: INGEST_PLAN_VERSION,
    file: spec.file,
    fingerprint: sha256(place, '\n', spec.sha256, '\n', digest),
    rowsRead: rows.length,
    trainRows: train.rows,
    evalRows: evaluation.rows,
    quarantinedRows: quarantine.length,
    quarantineReasons,
  };
  const outcome = outcomeOf(dirUri, spec.index, summary, false);
  const layout = { imageSize: parameters.imageSize, spec: parameters.spec };
  await writeShardColumns(outcome.trainUri, train.values, layout);
  await writeShardColumns(outcome.evalUri, evaluation.values, layout);
  await storage.write(outcome.quarantineUri, jsonLines(quarantine));
  await storage.write(outcome.idsUri, jsonLines(ids));
  await storage.write(outcome.idHashesUri!, bigEndianBytes(idHashes));
  // Last: a folder with done.json is complete; one without is an interrupted attempt, redone.
  await writeJson(joinUri(dirUri, 'done.json'), summary);
  return outcome;
}
