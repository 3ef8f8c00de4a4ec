/** The storage interface every stage uses: blobs addressed by URI (a local path, file://, gs://). */
import type { Readable } from 'node:stream';

/** Thrown when a URI names nothing; callers turn it into a message a person can act on. */
export class NotFoundError extends Error {
  constructor(readonly uri: string) {
    super(`not found: ${uri}`);
    this.name = 'NotFoundError';
  }
}

/** An object's content with the token that identifies this exact state of it. */
export interface VersionedObject {
  data: Buffer;
  /** Opaque: compare it for equality and hand it back to writeIfGeneration, nothing else. */
  generation: string;
}

/** A byte range of an object, both ends inclusive as in `fs.createReadStream`; either may be left out. */
export interface ReadRange {
  start?: number;
  end?: number;
}

export interface Storage {
  /** Reads a whole object. Throws NotFoundError when it does not exist. */
  read(uri: string): Promise<Buffer>;
  /**
   * Streams an object, or the `range` of it, for files too large to hold at once. Throws
   * NotFoundError when it does not exist.
   */
  createReadStream(uri: string, range?: ReadRange): Promise<Readable>;
  /** Writes an object atomically: readers see the old content or the new one, never a part. */
  write(uri: string, data: Buffer | string): Promise<void>;
  /** Creates an object only if it does not exist yet; returns false when it already did. */
  writeIfAbsent(uri: string, data: Buffer | string): Promise<boolean>;
  /**
   * Reads an object with an opaque generation token, or undefined when absent.
   * On GCS the token is the object's `generation` number; on local disk, the content's sha256.
   */
  readVersioned(uri: string): Promise<VersionedObject | undefined>;
  /**
   * Compare-and-swap: writes only if the object is still at `generation` (null: only if it does
   * not exist). Returns false on conflict. On GCS this is an upload with the
   * `ifGenerationMatch: generation` precondition (`ifGenerationMatch: 0` for null), a 412
   * answer meaning false. Objects updated this way must not also be written with `write`,
   * which takes no part in the check.
   */
  writeIfGeneration(uri: string, data: Buffer | string, generation: string | null): Promise<boolean>;
  exists(uri: string): Promise<boolean>;
  /** URIs of every object under a folder (`prefixUri` + '/'), at any depth, sorted. */
  list(prefixUri: string): Promise<string[]>;
  /**
   * URIs of the objects under a folder whose names relative to it (`/`-separated) sort at or after
   * `startOffset` in GCS's order (UTF-8 bytes), sorted as `list` sorts; '' lists everything. Under
   * time-named folders this reads only what is newer: on GCS the `startOffset` of one listing, on disk
   * a walk that skips every folder sorting wholly before the offset.
   */
  listFrom(prefixUri: string, startOffset: string): Promise<string[]>;
  /** Deletes an object, or everything under a folder; deleting nothing is not an error. */
  delete(uri: string): Promise<void>;
}
