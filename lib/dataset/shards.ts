/** Dataset shards as Apache Arrow IPC files: decoded examples that pyarrow, DuckDB or Polars can read too. */
import {
  Binary,
  Dictionary,
  Int32,
  Int8,
  Schema,
  Table,
  Utf8,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';
import { storageFor } from '../storage';
import { CATEGORICAL_FEATURES, type AdExample } from './schema';

/** Schema metadata key holding the side of the square images stored in `pixels`. */
export const IMAGE_SIZE_METADATA_KEY = 'mlops.image_size';

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

/** Writes examples as one Arrow IPC file; pixels are raw RGB, imageSize × imageSize × 3 bytes each. */
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
  const metadata = new Map([[IMAGE_SIZE_METADATA_KEY, String(imageSize)]]);
  const withMetadata = new Table(new Schema(table.schema.fields, metadata), table.batches);
  const bytes = tableToIPC(withMetadata, 'file');
  await storageFor(uri).write(uri, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

function column(table: Table, uri: string, name: string): Vector {
  const vector = table.getChild(name);
  if (!vector) throw new ShardFormatError(uri, `missing column "${name}"`);
  return vector;
}

/** Reads a shard written by writeShard; throws NotFoundError if absent, ShardFormatError if unreadable. */
export async function readShard(uri: string): Promise<{ imageSize: number; examples: AdExample[] }> {
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
  const imageSize = Number(table.schema.metadata.get(IMAGE_SIZE_METADATA_KEY));
  if (!Number.isInteger(imageSize) || imageSize < 1) {
    throw new ShardFormatError(
      uri,
      `schema metadata "${IMAGE_SIZE_METADATA_KEY}" is missing or not a positive integer`,
    );
  }
  const names = ['ad_id', ...CATEGORICAL_FEATURES, 'hour', 'headline_length', 'clicked', 'pixels'] as const;
  const vectors = Object.fromEntries(names.map((name) => [name, column(table, uri, name)])) as Record<
    (typeof names)[number],
    Vector
  >;
  const pixelBytes = imageSize * imageSize * 3;
  const examples: AdExample[] = [];
  for (let row = 0; row < table.numRows; row++) {
    const value = (name: (typeof names)[number]): unknown => vectors[name].get(row);
    const pixels = value('pixels');
    if (!(pixels instanceof Uint8Array) || pixels.length !== pixelBytes) {
      throw new ShardFormatError(uri, `row ${row}: pixels must be ${pixelBytes} bytes`);
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
  return { imageSize, examples };
}
