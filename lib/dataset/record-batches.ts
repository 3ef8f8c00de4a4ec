/**
 * Raw record batches of an Arrow IPC file, whatever its columns: what statistics need to see a
 * shard as it is (a column missing or retyped), where streamShard decodes into AdExamples and
 * refuses anything else.
 */
import { RecordBatchReader, type RecordBatch, type Schema } from 'apache-arrow';
import fs from 'node:fs/promises';
import { NotFoundError, schemeOf, storageFor, toLocalPath } from '../storage';
import { ShardFormatError } from './shards';

const ARROW_MAGIC = 'ARROW1';

async function openReader(uri: string): Promise<{ reader: RecordBatchReader; close: () => Promise<void> }> {
  if (schemeOf(uri) === 'file') {
    const handle = await fs.open(toLocalPath(uri), 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new NotFoundError(uri) : err;
    });
    try {
      const head = Buffer.alloc(ARROW_MAGIC.length);
      await handle.read(head, 0, head.length, 0);
      if (head.toString('latin1') !== ARROW_MAGIC) throw new ShardFormatError(uri, `not an Arrow IPC file`);
      // A file handle gives Arrow random access: the footer, then one batch at a time.
      return { reader: await RecordBatchReader.from(handle), close: () => handle.close() };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  // Stores without ranged reads: one shard's bytes at a time (shards are bounded in rows).
  const bytes = await storageFor(uri).read(uri);
  if (bytes.subarray(0, ARROW_MAGIC.length).toString('latin1') !== ARROW_MAGIC) {
    throw new ShardFormatError(uri, `not an Arrow IPC file`);
  }
  return { reader: RecordBatchReader.from(bytes), close: () => Promise.resolve() };
}

/** Calls `onSchema` once, then yields the file's record batches one by one. */
export async function* streamRecordBatches(
  uri: string,
  onSchema?: (schema: Schema) => void,
): AsyncGenerator<RecordBatch> {
  const { reader, close } = await openReader(uri);
  try {
    try {
      await reader.open();
    } catch (err) {
      throw new ShardFormatError(uri, `damaged or truncated Arrow IPC file (${(err as Error).message})`);
    }
    onSchema?.(reader.schema);
    const batches = reader[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<RecordBatch>;
      try {
        next = await batches.next();
      } catch (err) {
        throw new ShardFormatError(uri, `damaged Arrow IPC file (${(err as Error).message})`);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await close();
  }
}

/**
 * The shard files a split URI names: the file itself when it is one (`…/train.arrow`), else every
 * `.arrow` object under it as a prefix (a folder of shards), sorted.
 */
export async function listShardFiles(uri: string): Promise<string[]> {
  if (uri.endsWith('.arrow')) return [uri];
  const listed = await storageFor(uri).list(uri);
  return listed.filter((object) => object.endsWith('.arrow'));
}
