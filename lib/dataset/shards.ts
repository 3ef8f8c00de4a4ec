/** Dataset shards as Apache Arrow IPC files: decoded examples that pyarrow, DuckDB or Polars can read too. */
import {
  Binary,
  Dictionary,
  Int32,
  Int8,
  RecordBatchReader,
  Schema,
  Table,
  Utf8,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  type RecordBatch,
  type Vector,
} from 'apache-arrow';
import fs, { type FileHandle } from 'node:fs/promises';
import { NotFoundError, schemeOf, storageFor, toLocalPath } from '../storage';
import { CATEGORICAL_FEATURES, type AdExample } from './schema';

/** Schema metadata key holding the side of the square images stored in `pixels`. */
export const IMAGE_SIZE_METADATA_KEY = 'mlops.image_size';

/** Rows per record batch: what a streaming reader holds at once (~1.5 MB of pixels at 32 px). */
export const SHARD_BATCH_ROWS = 512;

const ARROW_MAGIC = 'ARROW1';
const COLUMNS = ['ad_id', ...CATEGORICAL_FEATURES, 'hour', 'headline_length', 'clicked', 'pixels'] as const;
type ColumnName = (typeof COLUMNS)[number];

/** Thrown when a shard exists but is not one this module wrote (or is damaged). */
export class ShardFormatError extends Error {
  constructor(
    readonly uri: string,
    reason: string,
  ) {
    super(`invalid shard ${uri}: ${reason}`);
    this.name = 'ShardFormatError';
  }
}

/** One record batch of a shard, decoded. */
export interface ShardChunk {
  imageSize: number;
  examples: AdExample[];
}

/**
 * Writes examples as one Arrow IPC file in record batches of SHARD_BATCH_ROWS rows, so readers can
 * stream it; pixels are raw RGB, imageSize × imageSize × 3 bytes each.
 */
export async function writeShard(uri: string, examples: AdExample[], imageSize: number): Promise<void> {
  const pixelBytes = imageSize * imageSize * 3;
  const wrong = examples.find((example) => example.pixels.length !== pixelBytes);
  if (wrong)
    throw new RangeError(
      `${wrong.ad_id}: expected ${pixelBytes} pixel bytes for size ${imageSize}, got ${wrong.pixels.length}`,
    );

  const columns = {
    ad_id: vectorFromArray(
      examples.map((example) => example.ad_id),
      new Utf8(),
    ),
    // Dictionary encoding: a handful of distinct values repeated over every row.
    ...Object.fromEntries(
      CATEGORICAL_FEATURES.map((name) => [
        name,
        vectorFromArray(
          examples.map((example) => example[name]),
          new Dictionary(new Utf8(), new Int32()),
        ),
      ]),
    ),
    hour: vectorFromArray(
      examples.map((example) => example.hour),
      new Int32(),
    ),
    headline_length: vectorFromArray(
      examples.map((example) => example.headline_length),
      new Int32(),
    ),
    clicked: vectorFromArray(
      examples.map((example) => example.clicked),
      new Int8(),
    ),
    pixels: vectorFromArray(
      examples.map((example) => example.pixels),
      new Binary(),
    ),
  } as Record<string, Vector>;
  const table = new Table(columns);
  // Slices share each column's one dictionary, which the IPC file format requires.
  const batches: RecordBatch[] = [];
  for (let start = 0; start < table.numRows; start += SHARD_BATCH_ROWS) {
    batches.push(...table.slice(start, start + SHARD_BATCH_ROWS).batches);
  }
  const metadata = new Map([[IMAGE_SIZE_METADATA_KEY, String(imageSize)]]);
  const schema = new Schema(table.schema.fields, metadata);
  const withMetadata = new Table(schema, batches.length > 0 ? batches : table.batches);
  const bytes = tableToIPC(withMetadata, 'file');
  await storageFor(uri).write(uri, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

function imageSizeOf(uri: string, schema: Schema): number {
  const imageSize = Number(schema.metadata.get(IMAGE_SIZE_METADATA_KEY));
  if (!Number.isInteger(imageSize) || imageSize < 1) {
    throw new ShardFormatError(
      uri,
      `schema metadata "${IMAGE_SIZE_METADATA_KEY}" is missing or not a positive integer`,
    );
  }
  return imageSize;
}

/** Decodes the rows of a table or record batch; `firstRow` numbers rows in messages. */
function decodeRows(
  uri: string,
  source: Pick<Table, 'getChild' | 'numRows'>,
  imageSize: number,
  firstRow = 0,
): AdExample[] {
  const vectors = Object.fromEntries(
    COLUMNS.map((name) => {
      const vector = source.getChild(name);
      if (!vector) throw new ShardFormatError(uri, `missing column "${name}"`);
      return [name, vector];
    }),
  ) as Record<ColumnName, Vector>;
  const pixelBytes = imageSize * imageSize * 3;
  const examples: AdExample[] = [];
  for (let row = 0; row < source.numRows; row++) {
    const value = (name: ColumnName): unknown => vectors[name].get(row);
    const pixels = value('pixels');
    if (!(pixels instanceof Uint8Array) || pixels.length !== pixelBytes) {
      throw new ShardFormatError(uri, `row ${firstRow + row}: pixels must be ${pixelBytes} bytes`);
    }
    examples.push({
      ad_id: String(value('ad_id')),
      advertiser: String(value('advertiser')),
      category: String(value('category')),
      placement: String(value('placement')),
      device: String(value('device')),
      hour: Number(value('hour')),
      headline_length: Number(value('headline_length')),
      clicked: Number(value('clicked')),
      pixels,
    });
  }
  return examples;
}

/** Reads a whole shard written by writeShard; throws NotFoundError if absent, ShardFormatError if unreadable. */
export async function readShard(uri: string): Promise<ShardChunk> {
  const bytes = await storageFor(uri).read(uri);
  // Checking the magic first turns an empty or foreign file into a plain message, not a parser's.
  if (bytes.length < 12 || bytes.subarray(0, 6).toString('latin1') !== ARROW_MAGIC) {
    throw new ShardFormatError(uri, `not an Arrow IPC file (no ${ARROW_MAGIC} magic; ${bytes.length} bytes)`);
  }
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (err) {
    throw new ShardFormatError(uri, `damaged or truncated Arrow IPC file (${(err as Error).message})`);
  }
  const imageSize = imageSizeOf(uri, table.schema);
  return { imageSize, examples: decodeRows(uri, table, imageSize) };
}

/** Opens a shard for random access: a file handle on local disk, else the whole object in memory. */
async function openShardReader(uri: string) {
  if (schemeOf(uri) === 'file') {
    let handle: FileHandle;
    try {
      handle = await fs.open(toLocalPath(uri), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(uri);
      throw err;
    }
    try {
      const { size } = await handle.stat();
      // As in readShard: an empty or foreign file gets a plain message, not the parser's.
      const head = Buffer.alloc(ARROW_MAGIC.length);
      await handle.read(head, 0, head.length, 0);
      if (size < 12 || head.toString('latin1') !== ARROW_MAGIC) {
        throw new ShardFormatError(uri, `not an Arrow IPC file (no ${ARROW_MAGIC} magic; ${size} bytes)`);
      }
      return { reader: await RecordBatchReader.from(handle), size, close: () => handle.close() };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  // Stores without ranged reads: one shard's bytes at a time, still decoded batch by batch.
  const bytes = await storageFor(uri).read(uri);
  return { reader: RecordBatchReader.from(bytes), size: bytes.length, close: () => Promise.resolve() };
}

/**
 * Streams a shard record batch by record batch through Arrow's file reader, which reads the footer
 * and then each batch at its offset, so one batch (SHARD_BATCH_ROWS rows) is in memory at a time.
 */
export async function* streamShard(uri: string): AsyncGenerator<ShardChunk> {
  const { reader, size, close } = await openShardReader(uri);
  try {
    try {
      await reader.open();
    } catch (err) {
      throw new ShardFormatError(uri, `damaged or truncated Arrow IPC file (${(err as Error).message})`);
    }
    if (!reader.isFile()) {
      throw new ShardFormatError(uri, `not an Arrow IPC file (no ${ARROW_MAGIC} magic; ${size} bytes)`);
    }
    const imageSize = imageSizeOf(uri, reader.schema);
    let rows = 0;
    const batches = reader[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<RecordBatch>;
      try {
        next = await batches.next();
      } catch (err) {
        throw new ShardFormatError(uri, `damaged Arrow IPC file (${(err as Error).message})`);
      }
      if (next.done) break;
      const examples = decodeRows(uri, next.value, imageSize, rows);
      rows += examples.length;
      yield { imageSize, examples };
    }
  } finally {
    await close();
  }
}
