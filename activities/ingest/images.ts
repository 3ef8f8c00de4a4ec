/**
 * The images of a shard's rows: fetched through the store with bounded concurrency, hashed (the
 * content fingerprint) and, when asked, decoded and resized with sharp. A missing or unreadable
 * image is a row's problem (quarantined); a store that fails otherwise is the activity's (retried).
 */
import { createHash } from 'node:crypto';
import { NotFoundError, resolveUri, storageFor } from '../../lib/storage/index';
import { decodeAdImage, ImageDecodeError } from '../../lib/dataset/image';
import { mapBounded } from './pool';

/** Error codes that no retry will fix: the row's image is unreadable, not the store unreachable. */
const PERMANENT_READ_ERRORS = new Set(['EISDIR', 'ENOTDIR', 'EACCES', 'EPERM', 'ENAMETOOLONG', 'ELOOP']);

/**
 * One row's image, as found: `hash` names what was read (its sha256, or "missing"), so the shard's
 * fingerprint covers it; then its pixels when decoded, or why the row must be quarantined.
 */
export interface ImageOutcome {
  hash: string;
  pixels?: Uint8Array;
  reason?: string;
}

export interface ImageJob {
  /** The image reference as written in the CSV. */
  ref: string;
}

export interface FetchImagesOptions {
  /** Folder that relative references are resolved against: the CSV's own. */
  baseUri: string;
  concurrency: number;
  /** Decode to imageSize × imageSize × 3 RGB; without it images are only hashed. */
  imageSize?: number;
  signal?: AbortSignal;
  /** Called with the number of images done so far, now and then. */
  onProgress?: (done: number) => void;
}

function readFailure(err: unknown, ref: string): ImageOutcome | undefined {
  if (err instanceof NotFoundError) return { hash: 'missing', reason: `missing image: ${ref}` };
  const code = (err as NodeJS.ErrnoException).code;
  if (code && PERMANENT_READ_ERRORS.has(code)) {
    return { hash: `unreadable:${code}`, reason: `unreadable image file: ${ref}: ${(err as Error).message}` };
  }
  return undefined;
}

/** Fetches (and optionally decodes) every job's image, results in job order. */
export async function fetchImages(
  jobs: readonly ImageJob[],
  options: FetchImagesOptions,
): Promise<ImageOutcome[]> {
  let done = 0;
  return mapBounded(
    jobs,
    options.concurrency,
    async (job) => {
      try {
        return await fetchImage(job.ref, options);
      } finally {
        if (++done % 256 === 0) options.onProgress?.(done);
      }
    },
    options.signal,
  );
}

async function fetchImage(ref: string, options: FetchImagesOptions): Promise<ImageOutcome> {
  const uri = resolveUri(options.baseUri, ref);
  let bytes: Buffer;
  try {
    bytes = await storageFor(uri).read(uri);
  } catch (err) {
    const failure = readFailure(err, ref);
    if (failure) return failure;
    throw err;
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  if (options.imageSize === undefined) return { hash };
  try {
    const pixels = await decodeAdImage(bytes, options.imageSize);
    return { hash, pixels };
  } catch (err) {
    if (!(err instanceof ImageDecodeError)) throw err;
    return { hash, reason: `corrupt image: ${ref}: ${err.message}` };
  }
}
