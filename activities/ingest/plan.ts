/**
 * Planning a sharded ingest: one streaming pass over every CSV of a dataset that cuts it into
 * byte ranges of about `shardRows` rows, each ending on a record boundary, without holding rows.
 * The plan goes to the store (plan.json plus chunks of shard specs), so workflow history carries
 * only its URI and a shard count however many shards there are.
 */
import { createHash, type Hash } from 'node:crypto';
import { joinUri, readJsonIfExists, storageFor, writeJson } from '../../lib/storage/index';
import { listDataCsvs, parentUri, type DataCsv } from '../../lib/dataset/csv-files';
import { readCsvBatches, readCsvItems } from '../../lib/dataset/csv-records';
import { encodingProblem } from '../../lib/dataset/csv-rows';
import { fileColumns, rowReaderFor, specColumns } from '../../lib/dataset/spec-rows';
import type { FeatureSpec } from '../../contracts/feature-spec';
import { imageColumnOf } from '../../lib/dataset/example';
import { mapBounded } from './pool';

/** Version of the plan and shard layout; part of every shard's cache key. */
export const INGEST_PLAN_VERSION = 3;
/** Shard specs per plan chunk file: a shard activity reads one chunk, never the whole plan. */
export const PLAN_CHUNK_SHARDS = 256;
/**
 * Decoded pixels one shard may hold (it holds them all to write its Arrow files): shards have at
 * most this / (imageSize² × 3) rows whatever data.shardRows says, so large images cannot make a
 * shard activity run out of memory. 50 000 rows of 32 px images take 150 MB.
 */
export const SHARD_PIXEL_BUDGET_BYTES = 256 * 1024 * 1024;
/** Files whose first bytes are read at once to check their headers. */
const HEADER_CHECK_CONCURRENCY = 16;

/** One shard: a byte range of one CSV, starting and ending on record boundaries. */
export interface ShardSpec {
  index: number;
  csvUri: string;
  /** The CSV's name relative to the dataset URI. */
  file: string;
  /** The CSV's column names (its header, trimmed, or the spec's csv.columns), in file order. */
  header: string[];
  /** Byte range [start, end) of the file; never includes the header. */
  start: number;
  end: number;
  /** File line number of the line just before the range, so lines are numbered as in the file. */
  lineOffset: number;
  /** Rows the planner counted in the range (records plus unreadable lines). */
  rows: number;
  /** sha256 of the range's bytes: a shard notices a file that changed since planning. */
  sha256: string;
}

/** Parameters every shard of a plan shares: they shape its outputs. */
export interface IngestParameters {
  dataUri: string;
  imageSize: number;
  evalFraction: number;
  /** What the CSVs' columns are: read by every shard. */
  spec: FeatureSpec;
  /** Batch prediction's rows: see IngestInput.unlabelled. */
  unlabelled?: boolean;
}

/** A chunk file of the plan: the shared parameters and up to PLAN_CHUNK_SHARDS shard specs. */
export interface PlanChunk extends IngestParameters {
  shards: ShardSpec[];
}

/** plan.json: what was found and how it was cut. */
export interface IngestPlan extends IngestParameters {
  version: number;
  /** Where the spec came from (see resolveFeatureSpec), and the copy the run reads. */
  featureSpecSource: string;
  featureSpecUri: string;
  /** Rows per shard: data.shardRows, or fewer for large images (see SHARD_PIXEL_BUDGET_BYTES). */
  shardRows: number;
  shardCount: number;
  rowsPlanned: number;
  files: Array<{ name: string; uri: string; bytes: number; rows: number; shards: number }>;
  /** CSVs under the prefix that are not data (the generator's ground truth). */
  skippedFiles: string[];
}

/** Thrown for a dataset that cannot be ingested as it is: the message lists every problem. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** The chunk file beside plan.json that holds a shard's spec. */
export function planChunkUri(planUri: string, shardIndex: number): string {
  const chunk = Math.floor(shardIndex / PLAN_CHUNK_SHARDS);
  return joinUri(parentUri(planUri), 'plan', `shards-${String(chunk).padStart(5, '0')}.json`);
}

/** Reads one shard's spec and the plan's parameters from the chunk that holds it. */
export async function readShardSpec(
  planUri: string,
  shardIndex: number,
): Promise<{ parameters: IngestParameters; spec: ShardSpec }> {
  const chunkUri = planChunkUri(planUri, shardIndex);
  const chunk = await readJsonIfExists<PlanChunk>(chunkUri);
  const spec = chunk?.shards.find((shard) => shard.index === shardIndex);
  if (!chunk || !spec)
    throw new DatasetError(`shard ${shardIndex} is not in the plan ${planUri} (${chunkUri})`);
  const { shards: _shards, ...parameters } = chunk;
  return { parameters, spec };
}

/** Feeds bytes of a stream to per-shard hashes as record boundaries become known. */
class RangeHasher {
  private pending: Buffer[] = [];
  private pendingStart = 0;
  private hash: Hash = createHash('sha256');
  /** Bytes fed so far: the stream's length once it ended. */
  bytesFed = 0;

  feed(chunk: Buffer): void {
    this.pending.push(chunk);
    this.bytesFed += chunk.length;
  }

  /** Hashes (or, with `skip`, drops) the bytes before `offset`. */
  advance(offset: number, skip = false): void {
    while (this.pending.length > 0 && this.pendingStart < offset) {
      const head = this.pending[0]!;
      const take = Math.min(head.length, offset - this.pendingStart);
      if (!skip) this.hash.update(head.subarray(0, take));
      this.pendingStart += take;
      if (take === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(take);
    }
  }

  /** Hashes everything up to `offset` and starts a new range there. */
  cut(offset: number): string {
    this.advance(offset);
    const digest = this.hash.digest('hex');
    this.hash = createHash('sha256');
    return digest;
  }
}

async function* bytesOf(uri: string, hasher?: RangeHasher): AsyncGenerator<Buffer> {
  const stream = await storageFor(uri).createReadStream(uri);
  let first = true;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (first) {
      const problem = encodingProblem(uri, chunk);
      if (problem) throw new DatasetError(problem);
      first = false;
    }
    hasher?.feed(chunk);
    yield chunk;
  }
}

/** csv-parse options of the spec's dialect. */
export function dialectOf(spec: FeatureSpec) {
  return { delimiter: spec.csv.delimiter, quote: spec.csv.quote };
}

/** The problem with a CSV's columns against the spec, or undefined when they match; reads only the first record. */
async function columnsProblem(
  file: DataCsv,
  spec: FeatureSpec,
  unlabelled: boolean,
): Promise<string | undefined> {
  try {
    for await (const item of readCsvItems(bytesOf(file.uri), dialectOf(spec))) {
      if (item.kind === 'malformed')
        return `${file.uri}: the first line is not readable CSV (${item.reason})`;
      const checked = rowReaderFor(file.uri, spec, item.fields, { labelOptional: unlabelled });
      return 'problem' in checked ? checked.problem : undefined;
    }
  } catch (err) {
    if (err instanceof DatasetError) return err.message;
    throw err;
  }
  return `${file.uri} is empty: ${spec.csv.header ? 'no header, no rows' : 'no rows'}`;
}

export interface PlanOptions extends IngestParameters {
  shardRows: number;
  featureSpecSource: string;
  featureSpecUri: string;
  /** Where plan.json and its chunks go. */
  outUri: string;
  /** Called every few thousand rows, for heartbeats. */
  onProgress?: (rowsPlanned: number) => void;
}

/** Cuts one CSV into shard specs numbered from `firstIndex`; a header-only file gets one empty shard. */
async function planFile(
  file: DataCsv,
  spec: FeatureSpec,
  shardRows: number,
  firstIndex: number,
  onRows: (rows: number) => void,
  unlabelled: boolean,
): Promise<{ shards: ShardSpec[]; bytes: number; rows: number }> {
  const hasher = new RangeHasher();
  const shards: ShardSpec[] = [];
  // Without a header row the spec names the columns and the first record is already data.
  let header: string[] | undefined = spec.csv.header ? undefined : fileColumns(spec, undefined);
  let start = 0;
  let lineOffset = 0;
  let rows = 0;
  let totalRows = 0;
  /** Where the current shard ends once another row shows it is not the file's last. */
  let pendingCut: { end: number; line: number } | undefined;
  const cut = (end: number, nextLineOffset: number) => {
    shards.push({
      index: firstIndex + shards.length,
      csvUri: file.uri,
      file: file.name,
      header: header!,
      start,
      end,
      lineOffset,
      rows,
      sha256: hasher.cut(end),
    });
    start = end;
    lineOffset = nextLineOffset;
    rows = 0;
  };
  for await (const batch of readCsvBatches(bytesOf(file.uri, hasher), {
    ...dialectOf(spec),
    firstFieldsOnly: true,
  })) {
    let lastEnd: number | undefined;
    for (const item of batch) {
      if (!header) {
        // columnsProblem checked it: the first item is a good header record.
        if (item.kind !== 'record') throw new DatasetError(`${file.uri}: the header changed while planning`);
        header = fileColumns(spec, item.fields);
        hasher.advance(item.endByte, true);
        start = item.endByte;
        lineOffset = item.line;
        continue;
      }
      // Headerless rows to score may lack the label's field (columnsProblem allowed it): the shards
      // must read them by the columns they have.
      if (totalRows === 0 && !spec.csv.header && unlabelled && item.kind === 'record') {
        const bound = rowReaderFor(file.uri, spec, item.fields, { labelOptional: true });
        if ('reader' in bound) header = [...bound.reader.names];
      }
      if (pendingCut) {
        cut(pendingCut.end, pendingCut.line);
        pendingCut = undefined;
      }
      rows += 1;
      totalRows += 1;
      if (totalRows % 10_000 === 0) onRows(10_000);
      if (item.kind === 'record') {
        lastEnd = item.endByte;
        if (rows >= shardRows) pendingCut = { end: item.endByte, line: item.line };
      }
    }
    // Hashed once a batch, never past a pending cut: that is at most the batch's last record.
    if (lastEnd !== undefined) hasher.advance(lastEnd);
  }
  onRows(totalRows % 10_000);
  if (!header || (!spec.csv.header && totalRows === 0)) {
    throw new DatasetError(`${file.uri} is empty: ${spec.csv.header ? 'no header, no rows' : 'no rows'}`);
  }
  // The last shard runs to the end of the file, blank lines and unreadable lines included; a
  // header-only file gets one empty shard, so every file appears in the outputs.
  const fileEnd = hasher.bytesFed;
  cut(fileEnd, lineOffset);
  return { shards, bytes: fileEnd, rows: totalRows };
}

/**
 * Lists the dataset's CSVs, checks every header first (so a bad file fails the plan before any long
 * pass), then cuts each file into shards and writes plan.json and its chunks under `outUri`.
 * Throws DatasetError listing every problem when the dataset cannot be ingested as it is.
 */
export async function planDataset(options: PlanOptions): Promise<IngestPlan> {
  const { dataUri, imageSize, evalFraction, spec, outUri, unlabelled } = options;
  const pixelRows = imageColumnOf(spec)
    ? Math.floor(SHARD_PIXEL_BUDGET_BYTES / (imageSize * imageSize * 3))
    : Number.POSITIVE_INFINITY;
  const shardRows = Math.max(1, Math.min(options.shardRows, pixelRows));
  const { files, skipped } = await listDataCsvs(dataUri);
  if (files.length === 0) {
    throw new DatasetError(
      `No dataset at ${dataUri}: expected one or more *.csv files there (a file, or a folder of them) ` +
        `with the spec's columns ${(spec.csv.columns ?? specColumns(spec)).join(spec.csv.delimiter)}`,
    );
  }
  const problems = (
    await mapBounded(files, HEADER_CHECK_CONCURRENCY, (file) =>
      columnsProblem(file, spec, unlabelled === true),
    )
  ).filter((problem) => problem !== undefined);
  if (problems.length > 0) throw new DatasetError(problems.join('; '));

  const shards: ShardSpec[] = [];
  const planned: IngestPlan['files'] = [];
  let rowsPlanned = 0;
  for (const file of files) {
    const result = await planFile(
      file,
      spec,
      shardRows,
      shards.length,
      (rows) => {
        rowsPlanned += rows;
        options.onProgress?.(rowsPlanned);
      },
      unlabelled === true,
    );
    shards.push(...result.shards);
    planned.push({
      name: file.name,
      uri: file.uri,
      bytes: result.bytes,
      rows: result.rows,
      shards: result.shards.length,
    });
  }

  const parameters: IngestParameters = {
    dataUri,
    imageSize,
    evalFraction,
    spec,
    ...(unlabelled ? { unlabelled } : {}),
  };
  const planUri = joinUri(outUri, 'plan.json');
  for (let first = 0; first < shards.length; first += PLAN_CHUNK_SHARDS) {
    const chunk: PlanChunk = { ...parameters, shards: shards.slice(first, first + PLAN_CHUNK_SHARDS) };
    await writeJson(planChunkUri(planUri, first), chunk);
  }
  const plan: IngestPlan = {
    version: INGEST_PLAN_VERSION,
    ...parameters,
    featureSpecSource: options.featureSpecSource,
    featureSpecUri: options.featureSpecUri,
    shardRows,
    shardCount: shards.length,
    rowsPlanned,
    files: planned,
    skippedFiles: skipped,
  };
  // Written last: a plan.json means every chunk is there.
  await writeJson(planUri, plan);
  return plan;
}
