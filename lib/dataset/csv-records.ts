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
  /**
   * Only the first record read needs its fields (the planner reads the header and counts the rest):
   * later quote-free records come with none, which saves splitting them.
   */
  firstFieldsOnly?: boolean;
}

type Chunks = AsyncIterable<Buffer | string> | Iterable<Buffer | string>;

const LF = 0x0a;
const CR = 0x0d;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NO_FIELDS: string[] = [];

/**
 * Streams the records of CSV bytes, in file order, with malformed lines in their place, as one
 * array per chunk read (holding one chunk's records at a time). Unreadable records are reported
 * line by line: every line since the last good record went into the record csv-parse gave up on,
 * so each one is reported and the row count stays honest. A UTF-8 byte order mark is skipped (and
 * counted in the offsets) only at the start of a file.
 *
 * Bytes without a single quote character hold no quoted field, so each of their lines is one
 * record whose fields are the line split on the delimiter, exactly what csv-parse reads there
 * (test/lib/dataset/csv-records.test.ts holds the two equal): those lines skip csv-parse, which
 * costs several times more per row than everything else ingest does. From the first chunk with a
 * quote character (or line ends csv-parse would read differently) csv-parse reads the rest.
 */
export async function* readCsvBatches(
  chunks: Chunks,
  options: ReadCsvOptions = {},
): AsyncGenerator<CsvItem[]> {
  const delimiter = options.delimiter ?? ',';
  const quote = options.quote ?? '"';
  let line = options.lineOffset ?? 0;
  let byte = options.byteOffset ?? 0;
  const source = (
    Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]()
  ) as AsyncIterator<Buffer | string> | Iterator<Buffer | string>;
  let carry: Buffer = Buffer.alloc(0);
  let lineEnd: QuoteFreeLineEnd | undefined;
  let ended = false;
  let atFileStart = byte === 0;
  let first = true;
  /** Set once these bytes need csv-parse: from `byte` on, it reads everything. */
  let needsCsvParse = true;
  // Only one-byte ASCII delimiters and quotes can be found byte by byte.
  if (delimiter.charCodeAt(0) < 0x80 && quote.charCodeAt(0) < 0x80) {
    const quoteByte = quote.charCodeAt(0);
    needsCsvParse = false;
    while (!ended && !needsCsvParse) {
      const next = await source.next();
      ended = next.done === true;
      const bytes = ended ? carry : concat(carry, next.value as Buffer | string);
      carry = bytes;
      if (atFileStart && bytes.length < UTF8_BOM.length && !ended) continue;
      // A file's byte order mark: UTF-8's is skipped as csv-parse skips it; any other goes to csv-parse.
      let from = 0;
      if (atFileStart) {
        if (bytes.subarray(0, UTF8_BOM.length).equals(UTF8_BOM)) from = UTF8_BOM.length;
        else if (bytes[0] === 0xff || bytes[0] === 0xfe) needsCsvParse = true;
      }
      const until = ended ? bytes.length : bytes.lastIndexOf(LF) + 1;
      const region = bytes.subarray(0, until);
      const kind =
        needsCsvParse || region.length === 0 ? undefined : quoteFreeLineEnds(region, from, lineEnd);
      if (region.indexOf(quoteByte, from) !== -1 || kind === 'mixed') needsCsvParse = true;
      if (needsCsvParse || kind === 'mixed' || region.length === 0) continue;
      lineEnd = kind ?? lineEnd;
      const batch: CsvItem[] = [];
      let start = from;
      while (start < region.length) {
        const newline = region.indexOf(LF, start);
        const after = newline === -1 ? region.length : newline + 1;
        const content = newline === -1 ? after : lineEnd === 'crlf' ? newline - 1 : newline;
        line += 1;
        // csv-parse skips empty lines but counts them.
        if (content > start) {
          const fields =
            options.firstFieldsOnly && !first
              ? NO_FIELDS
              : region.toString('utf8', start, content).split(delimiter);
          first = false;
          batch.push({ kind: 'record', fields, line, endByte: byte + after });
        }
        start = after;
      }
      byte += region.length;
      atFileStart = false;
      carry = bytes.subarray(until);
      if (batch.length > 0) yield batch;
    }
  }
  if (!needsCsvParse) return;
  yield* readWithCsvParse(withHead(carry, source), {
    delimiter,
    quote,
    lineOffset: line,
    byteOffset: byte,
    ...(lineEnd ? { recordDelimiter: lineEnd === 'crlf' ? '\r\n' : '\n' } : {}),
  });
}

/** The same records as readCsvBatches, one at a time. */
export async function* readCsvItems(chunks: Chunks, options: ReadCsvOptions = {}): AsyncGenerator<CsvItem> {
  for await (const batch of readCsvBatches(chunks, options)) yield* batch;
}

type QuoteFreeLineEnd = 'lf' | 'crlf';

/**
 * How the lines of `region` (from `from`) end: all "\n" or all "\r\n", the first as csv-parse
 * would find it and the rest the same; 'mixed' when a carriage return is anywhere else (a lone
 * one, or "\r\n" in a file of "\n"), where csv-parse must read. Undefined for a region without
 * a line end.
 */
function quoteFreeLineEnds(
  region: Buffer,
  from: number,
  known: QuoteFreeLineEnd | undefined,
): QuoteFreeLineEnd | 'mixed' | undefined {
  const firstCr = region.indexOf(CR, from);
  const firstLf = region.indexOf(LF, from);
  if (firstCr === -1) return known === 'crlf' && firstLf !== -1 ? 'mixed' : firstLf === -1 ? undefined : 'lf';
  if (known === 'lf' || (firstLf !== -1 && firstLf < firstCr)) return 'mixed';
  // Every carriage return must be just before a line feed, and every line feed just after one.
  let crs = 0;
  for (let at = firstCr; at !== -1; at = region.indexOf(CR, at + 1)) {
    if (region[at + 1] !== LF) return 'mixed';
    crs += 1;
  }
  let lfs = 0;
  for (let at = firstLf; at !== -1; at = region.indexOf(LF, at + 1)) lfs += 1;
  return crs === lfs ? 'crlf' : 'mixed';
}

function concat(head: Buffer, chunk: Buffer | string): Buffer {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  return head.length === 0 ? bytes : Buffer.concat([head, bytes]);
}

async function* withHead(
  head: Buffer,
  rest: AsyncIterator<Buffer | string> | Iterator<Buffer | string>,
): AsyncGenerator<Buffer | string> {
  if (head.length > 0) yield head;
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value;
}

interface CsvParseOptions extends Required<Omit<ReadCsvOptions, 'firstFieldsOnly'>> {
  /** The record delimiter the bytes before these used; csv-parse finds it itself otherwise. */
  recordDelimiter?: string;
}

/** csv-parse's reading of the bytes, one array of items per chunk. */
async function* readWithCsvParse(
  chunks: AsyncIterable<Buffer | string>,
  options: CsvParseOptions,
): AsyncGenerator<CsvItem[]> {
  const { lineOffset, byteOffset } = options;
  const queue: CsvItem[] = [];
  let parsedThroughLine = 0;
  let failure: Error | undefined;
  const parser = parse({
    delimiter: options.delimiter,
    quote: options.quote,
    ...(options.recordDelimiter ? { record_delimiter: options.recordDelimiter } : {}),
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
    if (queue.length > 0) yield queue.splice(0);
  }
  parser.end();
  await finished;
  if (failure) throw failure;
  if (queue.length > 0) yield queue.splice(0);
}

/** Splits a buffer into chunks, so a range held in memory still parses chunk by chunk. */
export function* bufferChunks(buffer: Buffer, size = 64 * 1024): Generator<Buffer> {
  for (let start = 0; start < buffer.length; start += size) yield buffer.subarray(start, start + size);
}
