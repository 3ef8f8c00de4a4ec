/** The storage interface every stage uses: blobs addressed by URI (a local path, file://, later gs://). */
import type { Readable } from 'node:stream';

/** Thrown when a URI names nothing; callers turn it into a message a person can act on. */
export class NotFoundError extends Error {
  constructor(readonly uri: string) {
    super(`not found: ${uri}`);
    this.name = 'NotFoundError';
  }
}

export interface Storage {
  /** Reads a whole object. Throws NotFoundError when it does not exist. */
  read(uri: string): Promise<Buffer>;
  /** Streams an object, for files too large to hold at once. */
  createReadStream(uri: string): Promise<Readable>;
  /** Writes an object atomically: readers see the old content or the new one, never a part. */
  write(uri: string, data: Buffer | string): Promise<void>;
  /** Creates an object only if it does not exist yet; returns false when it already did. */
  writeIfAbsent(uri: string, data: Buffer | string): Promise<boolean>;
  exists(uri: string): Promise<boolean>;
  /** URIs of every object under a prefix, sorted. */
  list(prefixUri: string): Promise<string[]>;
  delete(uri: string): Promise<void>;
}
