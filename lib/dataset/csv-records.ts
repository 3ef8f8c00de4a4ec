/**
 * CSV records with their file line numbers and byte offsets, as csv-parse reads them: the one
 * reader both the ingest planner (which cuts files into byte ranges) and the shard ingest (which
 * parses one range) use, so both see exactly the same records.
 */
import { parse } from 'csv-parse';

/** A record csv-parse read: its fields, the file line it ends on, and the byte just after it. */
export interface CsvRecord {
  kind: 'record';
  fields: string[];
  /** 1-based line of the file on which the record ends. */
  line: number;
  /** Offset in the file of the first byte after the record and its line end. */
  endByte: number;
}

/** A line csv-parse could not read (a stray or unclosed quote): quarantined, never dropped. */
export interface CsvMalformed {
  kind: 'malformed';
  line: number;
  reason: string;
}

export type CsvItem = CsvRecord | CsvMalformed;

export interface ReadCsvOptions {
  /** File line number of the line before the first one read (0 at the start of a file). */
  lineOffset?: number;
  /** File offset of the first byte read (0 at the start of a file). */
  byteOffset?: number;
  /** Field delimiter (default ","). */
  delimiter?: string;
  /** Quote character (default '"'). */
  quote?: string;
}

/**
 * Streams the records of CSV bytes, in file order, with malformed lines in their place. Unreadable
 * records are reported line by line: every line since the last good record went into the record
 * csv-parse gave up on, so each one is reported and the row count stays honest. Holds one chunk's
 * records at a time. A UTF-8 byte order mark is skipped (and counted in the offsets) only at the
 * start of a file.
 */
export async function* readCsvItems(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  options: ReadCsvOptions = {},
): AsyncGenerator<CsvItem> {
  const lineOffset = options.lineOffset ?? 0;
  const byteOffset = options.byteOffset ?? 0;
  const queue: CsvItem[] = [];
  let parsedThroughLine = 0;
  let failure: Error | undefined;
  const parser = parse({
    delimiter: options.delimiter ?? ',',
    quote: options.quote ?? '"',
    relax_column_count: true,
    skip_empty_lines: true,
    bom: byteOffset === 0,
    skip_records_with_error: true,
    // Records go to the queue in parse order, interleaved with the 'skip' events; the parser's
    // own output stays empty.
    on_record: (fields: string[], info) => {
      parsedThroughLine = info.lines;
      queue.push({ kind: 'record', fields, line: lineOffset + info.lines, endByte: byteOffset + info.bytes });
      return null;
    },
  });
  parser.on('skip', (err: Error & { lines?: number }) => {
    const from = parsedThroughLine + 1;
    const to = Math.max(err.lines ?? from, from);
    parsedThroughLine = to;
    const span = to > from ? ` (lines ${lineOffset + from}-${lineOffset + to} were read as one record)` : '';
    // csv-parse numbers lines from where it started reading, not from the top of the file.
    const message = err.message.replace(/ at line \d+/g, '');
    for (let line = from; line <= to; line++) {
      queue.push({ kind: 'malformed', line: lineOffset + line, reason: `malformed CSV: ${message}${span}` });
    }
  });
  parser.on('error', (err: Error) => {
    failure = err;
  });
  const finished = new Promise<void>((resolve) => parser.on('finish', resolve).on('error', () => resolve()));
  parser.resume();
  // csv-parse transforms synchronously, so after write() returns every record of the chunk is queued.
  for await (const chunk of chunks) {
    parser.write(chunk);
    if (failure) throw failure;
    if (queue.length > 0) yield* queue.splice(0);
  }
  parser.end();
  await finished;
  if (failure) throw failure;
  yield* queue.splice(0);
}

/** Splits a buffer into chunks, so a range held in memory still parses chunk by chunk. */
export function* bufferChunks(buffer: Buffer, size = 64 * 1024): Generator<Buffer> {
  for (let start = 0; start < buffer.length; start += size) yield buffer.subarray(start, start + size);
}
