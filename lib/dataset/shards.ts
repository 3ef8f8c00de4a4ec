/** Dataset shards as Apache Arrow IPC files: decoded examples that pyarrow, DuckDB or Polars can read too. */
import {
  Binary,
  Dictionary,
  Float64,
  Int32,
  Int8,
  RecordBatchReader,
  Schema,
  Table,
  Utf8,
  makeData,
  makeVector,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  type DataType,
  type RecordBatch,
  type Vector,
} from 'apache-arrow';
import fs, { type FileHandle } from 'node:fs/promises';
import { featureSpecSchema, type FeatureSpec } from '../../contracts/feature-spec';
import { NotFoundError, schemeOf, storageFor, toLocalPath } from '../storage';
import { imageColumnOf, PIXELS_KEY, type DatasetExample } from './example';
import { ADS_FEATURE_SPEC } from './synthetic-spec';

/** Schema metadata key holding the side of the square images stored in `pixels`. */
export const IMAGE_SIZE_METADATA_KEY = 'mlops.image_size';
/** Schema metadata key holding the feature spec (JSON) the shard's columns follow. */
export const FEATURE_SPEC_METADATA_KEY = 'mlops.feature_spec';

/** Rows per record batch: what a streaming reader holds at once (~1.5 MB of pixels at 32 px). */
export const SHARD_BATCH_ROWS = 512;

const ARROW_MAGIC = 'ARROW1';

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
  /** The spec the shard's columns follow. */
  spec: FeatureSpec;
  examples: DatasetExample[];
}

/** A stored column: its name, its Arrow type, how its cells become a vector, and how a cell is read back. */
interface ShardColumn {
  name: string;
  type: () => DataType;
  build?: (values: readonly unknown[]) => Vector;
  read: (value: unknown) => DatasetExample[string];
}

/** Arrow's validity bitmap of `values`: bit i set when value i is not null. */
function validityOf(values: readonly unknown[]): { nullBitmap: Uint8Array; nullCount: number } {
  const nullBitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nullCount = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null || values[i] === undefined) nullCount++;
    else nullBitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { nullBitmap, nullCount };
}

/**
 * A dictionary-encoded string column built in one pass over a Map of its values: Arrow's generic
 * builder hashes every cell through its own dictionary builder at several times the cost.
 */
function dictionaryVector(values: readonly unknown[]): Vector {
  const codes = new Int32Array(values.length);
  const indexOf = new Map<string, number>();
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'string') continue;
    let code = indexOf.get(value);
    if (code === undefined) indexOf.set(value, (code = indexOf.size));
    codes[i] = code;
  }
  return makeVector(
    makeData({
      type: new Dictionary(new Utf8(), new Int32()),
      length: values.length,
      data: codes,
      dictionary: utf8Vector([...indexOf.keys()]),
      ...validityOf(values),
    }),
  );
}

/**
 * A Utf8 column encoded in one call over all its strings (Arrow's builder encodes cell by cell):
 * an ASCII column's offsets are its strings' lengths; any other's, their UTF-8 byte lengths.
 */
function utf8Vector(values: readonly unknown[]): Vector {
  const strings = values.map((value) => (typeof value === 'string' ? value : ''));
  const joined = strings.join('');
  const data = Buffer.from(joined, 'utf8');
  // Every non-ASCII UTF-16 unit takes more than one byte, so equal lengths mean all ASCII.
  const ascii = data.length === joined.length;
  const valueOffsets = new Int32Array(strings.length + 1);
  for (let i = 0; i < strings.length; i++) {
    const string = strings[i]!;
    valueOffsets[i + 1] = valueOffsets[i]! + (ascii ? string.length : Buffer.byteLength(string, 'utf8'));
  }
  return makeVector(
    makeData({ type: new Utf8(), length: values.length, valueOffsets, data, ...validityOf(values) }),
  );
}

/** A Float64 column written straight into its buffer. */
function float64Vector(values: readonly unknown[]): Vector {
  const data = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === 'number') data[i] = value;
  }
  return makeVector(makeData({ type: new Float64(), length: values.length, data, ...validityOf(values) }));
}

// Arrow hands back strings for Utf8 and dictionary columns, numbers for Float64, null when missing.
const asString = (value: unknown) => (typeof value === 'string' ? value : null);
const asNumber = (value: unknown) => (value === null || value === undefined ? null : Number(value));

/**
 * The columns a shard of this spec holds, in order: the id, each categorical (dictionary-encoded:
 * few values repeated over every row), numeric and text feature, the label as 0/1, and the decoded
 * image as `pixels`. Ignored columns and the image's path are not stored.
 */
export function shardColumns(spec: FeatureSpec): ShardColumn[] {
  const columns: ShardColumn[] = spec.id
    ? [{ name: spec.id, type: () => new Utf8(), build: utf8Vector, read: String }]
    : [];
  for (const feature of spec.features) {
    if (feature.kind === 'categorical') {
      columns.push({
        name: feature.column,
        type: () => new Dictionary(new Utf8(), new Int32()),
        build: dictionaryVector,
        read: asString,
      });
    } else if (feature.kind === 'numeric') {
      columns.push({ name: feature.column, type: () => new Float64(), build: float64Vector, read: asNumber });
    } else if (feature.kind === 'text') {
      columns.push({ name: feature.column, type: () => new Utf8(), build: utf8Vector, read: asString });
    }
  }
  // Null only in batch prediction's shards, whose rows need no label.
  columns.push({
    name: spec.label.column,
    type: () => new Int8(),
    read: (value) => (value === null || value === undefined ? null : Number(value)),
  });
  if (imageColumnOf(spec))
    columns.push({ name: PIXELS_KEY, type: () => new Binary(), read: (v) => v as Uint8Array });
  return columns;
}

export interface WriteShardOptions {
  imageSize: number;
  spec: FeatureSpec;
}

/**
 * Writes examples as one Arrow IPC file in record batches of SHARD_BATCH_ROWS rows, so readers can
 * stream it; pixels are raw RGB, imageSize × imageSize × 3 bytes each. The spec goes into the
 * schema's metadata, so the shard says what its columns are.
 */
export async function writeShard(
  uri: string,
  examples: readonly DatasetExample[],
  layout: WriteShardOptions,
): Promise<void> {
  const columns = shardColumns(layout.spec).map((column) =>
    examples.map((example) => example[column.name] ?? null),
  );
  await writeShardColumns(uri, columns, layout);
}

/**
 * Writes a shard from its columns' values, one array per shardColumns(spec) entry in that order,
 * all of one length: what ingest gathers row by row without building an object per example.
 */
export async function writeShardColumns(
  uri: string,
  values: readonly (readonly unknown[])[],
  { imageSize, spec }: WriteShardOptions,
): Promise<void> {
  const stored = shardColumns(spec);
  const rows = values[0]?.length ?? 0;
  if (values.length !== stored.length || values.some((column) => column.length !== rows)) {
    throw new RangeError(
      `expected ${stored.length} columns of one length (${stored.map((column) => column.name).join(', ')}), ` +
        `got ${values.length} of lengths ${values.map((column) => column.length).join(', ')}`,
    );
  }
  const pixelBytes = imageSize * imageSize * 3;
  if (imageColumnOf(spec)) {
    const pixels = values[stored.length - 1]!;
    const wrong = pixels.findIndex((value) => (value as Uint8Array | null)?.length !== pixelBytes);
    if (wrong >= 0)
      throw new RangeError(
        `example ${wrong}: expected ${pixelBytes} pixel bytes for size ${imageSize}, got ${(pixels[wrong] as Uint8Array | null)?.length ?? 0}`,
      );
  }
  const columns = Object.fromEntries(
    stored.map((column, index) => {
      const cells = values[index]!;
      return [column.name, column.build ? column.build(cells) : vectorFromArray(cells, column.type())];
    }),
  ) as Record<string, Vector>;
  const table = new Table(columns);
  // Slices share each column's one dictionary, which the IPC file format requires.
  const batches: RecordBatch[] = [];
  for (let start = 0; start < table.numRows; start += SHARD_BATCH_ROWS) {
    batches.push(...table.slice(start, start + SHARD_BATCH_ROWS).batches);
  }
  const metadata = new Map([
    [IMAGE_SIZE_METADATA_KEY, String(imageSize)],
    [FEATURE_SPEC_METADATA_KEY, JSON.stringify(spec)],
  ]);
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

/** The shard's spec; shards written before specs existed hold the ads, whose columns they match. */
function specOf(uri: string, schema: Schema): FeatureSpec {
  const text = schema.metadata.get(FEATURE_SPEC_METADATA_KEY);
  if (text === undefined) return ADS_FEATURE_SPEC;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ShardFormatError(uri, `schema metadata "${FEATURE_SPEC_METADATA_KEY}" is not JSON`);
  }
  const parsed = featureSpecSchema.safeParse(json);
  if (!parsed.success) {
    throw new ShardFormatError(
      uri,
      `schema metadata "${FEATURE_SPEC_METADATA_KEY}" is not a valid feature spec`,
    );
  }
  return parsed.data;
}

/** Decodes the rows of a table or record batch; `firstRow` numbers rows in messages. */
function decodeRows(
  uri: string,
  source: Pick<Table, 'getChild' | 'numRows'>,
  imageSize: number,
  spec: FeatureSpec,
  firstRow = 0,
): DatasetExample[] {
  const columns = shardColumns(spec).map((column) => {
    const vector = source.getChild(column.name);
    if (!vector) throw new ShardFormatError(uri, `missing column "${column.name}"`);
    return { ...column, vector };
  });
  const pixelBytes = imageSize * imageSize * 3;
  const hasImage = imageColumnOf(spec) !== undefined;
  const examples: DatasetExample[] = [];
  for (let row = 0; row < source.numRows; row++) {
    const example: Record<string, DatasetExample[string]> = {};
    for (const column of columns) example[column.name] = column.read(column.vector.get(row));
    if (hasImage) {
      const pixels = example[PIXELS_KEY];
      if (!(pixels instanceof Uint8Array) || pixels.length !== pixelBytes) {
        throw new ShardFormatError(uri, `row ${firstRow + row}: pixels must be ${pixelBytes} bytes`);
      }
    }
    examples.push(example);
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
  const spec = specOf(uri, table.schema);
  return { imageSize, spec, examples: decodeRows(uri, table, imageSize, spec) };
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

/** A shard's reader with its schema read (closed again when that fails): what every shard reader starts with. */
async function openedShardReader(uri: string) {
  const opened = await openShardReader(uri);
  try {
    await opened.reader.open();
  } catch (err) {
    await opened.close();
    throw new ShardFormatError(uri, `damaged or truncated Arrow IPC file (${(err as Error).message})`);
  }
  return opened;
}

/** What a shard's schema says: its image size and the spec its columns follow; reads no rows. */
export async function readShardLayout(uri: string): Promise<{ imageSize: number; spec: FeatureSpec }> {
  const { reader, close } = await openedShardReader(uri);
  try {
    return { imageSize: imageSizeOf(uri, reader.schema), spec: specOf(uri, reader.schema) };
  } finally {
    await close();
  }
}

/**
 * Streams a shard record batch by record batch through Arrow's file reader, which reads the footer
 * and then each batch at its offset, so one batch (SHARD_BATCH_ROWS rows) is in memory at a time.
 */
export async function* streamShard(uri: string): AsyncGenerator<ShardChunk> {
  const { reader, size, close } = await openedShardReader(uri);
  try {
    if (!reader.isFile()) {
      throw new ShardFormatError(uri, `not an Arrow IPC file (no ${ARROW_MAGIC} magic; ${size} bytes)`);
    }
    const imageSize = imageSizeOf(uri, reader.schema);
    const spec = specOf(uri, reader.schema);
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
      const examples = decodeRows(uri, next.value, imageSize, spec, rows);
      rows += examples.length;
      yield { imageSize, spec, examples };
    }
  } finally {
    await close();
  }
}
