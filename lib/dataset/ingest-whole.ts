/**
 * The single-activity ingest (ingestDataset): one CSV, every row in memory, one train and one eval
 * shard. Kept for pipelines that run it until they move to the sharded ingest (planIngest,
 * ingestShard, finishIngest), which replaces it.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { parse } from 'csv-parse';
import { joinUri, NotFoundError, readJsonIfExists, resolveUri, storageFor, writeJson } from '../storage';
import { countReason } from './csv-rows';
import { decodeAdImage } from './image';
import type { IngestInput, IngestResult, QuarantinedRow } from './ingest-types';
import { isEvalExample } from './ingest-split';
import { AD_COLUMNS, adRowSchema, DATASET_SCHEMA_VERSION, type AdExample } from './schema';
import { writeShard } from './shards';

const CSV_FILE = 'ads.csv';
const DECODE_BATCH = 16;

function csvUriOf(dataUri: string): string {
  return dataUri.endsWith('.csv') ? dataUri : joinUri(dataUri, CSV_FILE);
}

interface PendingRow {
  line: number;
  record: string[];
}

/** Reads the dataset at dataUri into train/eval Arrow shards under outUri; reuses them if already there. */
export async function ingestWholeDataset(
  input: IngestInput,
  outUri: string,
  heartbeat: (details: unknown) => void,
): Promise<IngestResult> {
  const summaryUri = joinUri(outUri, 'summary.json');
  const previous = await readJsonIfExists<IngestResult>(summaryUri);
  if (previous) return previous;

  const csvUri = csvUriOf(input.dataUri);
  const dataDir = input.dataUri.endsWith('.csv') ? path.posix.dirname(input.dataUri) : input.dataUri;
  const storage = storageFor(csvUri);
  let csvStream;
  try {
    csvStream = await storage.createReadStream(csvUri);
  } catch (err) {
    if (err instanceof NotFoundError) {
      throw ApplicationFailure.create({
        nonRetryable: true,
        message: `No dataset at ${input.dataUri}: expected ${csvUri} (CSV with columns ${AD_COLUMNS.join(',')})`,
      });
    }
    throw err;
  }

  const csvHash = createHash('sha256');
  const imageHashes: string[] = [];
  const seenIds = new Set<string>();
  const train: AdExample[] = [];
  const evaluation: AdExample[] = [];
  const quarantine: QuarantinedRow[] = [];
  let rowsRead = 0;

  const decodeRow = async ({ line, record }: PendingRow): Promise<void> => {
    if (record.length !== AD_COLUMNS.length) {
      quarantine.push({
        line,
        reason: `field count: expected ${AD_COLUMNS.length} fields, got ${record.length}`,
      });
      return;
    }
    const raw = Object.fromEntries(AD_COLUMNS.map((column, i) => [column, record[i] ?? '']));
    const parsed = adRowSchema.safeParse(raw);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
      quarantine.push({ line, adId: raw.ad_id, reason: `invalid field: ${problems.join('; ')}` });
      return;
    }
    const row = parsed.data;
    if (seenIds.has(row.ad_id)) {
      quarantine.push({
        line,
        adId: row.ad_id,
        reason: `duplicate ad_id: ${row.ad_id} appeared earlier`,
      });
      return;
    }
    seenIds.add(row.ad_id);
    const imageUri = resolveUri(dataDir, row.image);
    let bytes: Buffer;
    try {
      bytes = await storageFor(imageUri).read(imageUri);
    } catch (err) {
      const reason =
        err instanceof NotFoundError
          ? `missing image: ${row.image}`
          : `unreadable image file: ${(err as Error).message}`;
      quarantine.push({ line, adId: row.ad_id, reason });
      return;
    }
    let pixels: Uint8Array;
    try {
      pixels = await decodeAdImage(bytes, input.imageSize);
    } catch (err) {
      quarantine.push({
        line,
        adId: row.ad_id,
        reason: `corrupt image: ${row.image}: ${(err as Error).message}`,
      });
      return;
    }
    imageHashes.push(`${row.ad_id}:${createHash('sha256').update(bytes).digest('hex')}`);
    const { image: _image, ...fields } = row;
    const example: AdExample = { ...fields, pixels };
    (isEvalExample(row.ad_id, input.evalFraction) ? evaluation : train).push(example);
  };

  // A record csv-parse cannot read (a stray or unclosed quote) is quarantined, not fatal. The
  // parser reports it by the line it gave up on; every line since the last good record went
  // into it, and each is quarantined so the bad-row count stays honest.
  let parsedThroughLine = 0;
  const parser = csvStream.pipe(
    parse({
      relax_column_count: true,
      skip_empty_lines: true,
      bom: true,
      info: true,
      skip_records_with_error: true,
      on_record: (record: string[], { lines }) => {
        parsedThroughLine = lines;
        return record;
      },
    }),
  );
  parser.on('skip', (err: Error & { lines?: number }) => {
    const from = parsedThroughLine + 1;
    const to = Math.max(err.lines ?? from, from);
    parsedThroughLine = to;
    const span = to > from ? ` (lines ${from}-${to} were read as one record)` : '';
    for (let line = from; line <= to; line++) {
      rowsRead += 1;
      quarantine.push({ line, reason: `malformed CSV: ${err.message}${span}` });
    }
  });
  csvStream.on('data', (chunk: Buffer) => csvHash.update(chunk));
  let header: string[] | undefined;
  let pending: PendingRow[] = [];
  const flush = async () => {
    // Rows decode in order within a batch, so shards are identical on every run.
    const results = pending.map((row) => decodeRow(row));
    await Promise.all(results);
    pending = [];
    heartbeat({ rowsRead });
  };
  for await (const { record, info } of parser as AsyncIterable<{
    record: string[];
    info: { lines: number };
  }>) {
    if (!header) {
      header = record.map((name) => name.trim());
      const missing = AD_COLUMNS.filter((column) => !header!.includes(column));
      if (missing.length > 0 || header.length !== AD_COLUMNS.length) {
        const delimiter =
          header.length === 1 ? [';', '\t', '|'].find((char) => header![0]!.includes(char)) : undefined;
        throw ApplicationFailure.create({
          nonRetryable: true,
          message: `${csvUri} has the wrong header: expected "${AD_COLUMNS.join(',')}", got "${header.join(',')}"${
            missing.length ? ` (missing: ${missing.join(', ')})` : ''
          }${delimiter ? `; the file looks ${JSON.stringify(delimiter)}-delimited, but ads.csv must be comma-separated` : ''}`,
        });
      }
      continue;
    }
    rowsRead += 1;
    const ordered =
      header.length === record.length
        ? AD_COLUMNS.map((column) => record[header!.indexOf(column)] ?? '')
        : record;
    pending.push({ line: info.lines, record: ordered });
    if (pending.length >= DECODE_BATCH) await flush();
  }
  await flush();
  if (!header) {
    throw ApplicationFailure.create({
      nonRetryable: true,
      message: `${csvUri} is empty: no header, no rows`,
    });
  }

  // Decoding is concurrent within a batch; sort so the shard order never depends on timing.
  const byId = (a: AdExample, b: AdExample) => a.ad_id.localeCompare(b.ad_id);
  train.sort(byId);
  evaluation.sort(byId);
  quarantine.sort((a, b) => a.line - b.line);

  const result: IngestResult = {
    dataUri: input.dataUri,
    trainUri: joinUri(outUri, 'train.arrow'),
    evalUri: joinUri(outUri, 'eval.arrow'),
    quarantineUri: joinUri(outUri, 'quarantine.jsonl'),
    imageSize: input.imageSize,
    rowsRead,
    trainRows: train.length,
    evalRows: evaluation.length,
    quarantinedRows: quarantine.length,
    quarantineReasons: quarantine.reduce<Record<string, number>>((counts, row) => {
      countReason(counts, row.reason);
      return counts;
    }, {}),
    schemaVersion: DATASET_SCHEMA_VERSION,
    fingerprint: createHash('sha256')
      .update(csvHash.digest('hex'))
      .update(imageHashes.sort().join('\n'))
      .digest('hex'),
  };
  await writeShard(result.trainUri, train, input.imageSize);
  await writeShard(result.evalUri, evaluation, input.imageSize);
  await storageFor(result.quarantineUri).write(
    result.quarantineUri,
    quarantine.map((row) => JSON.stringify(row)).join('\n') + (quarantine.length ? '\n' : ''),
  );
  await writeJson(summaryUri, result);
  return result;
}
