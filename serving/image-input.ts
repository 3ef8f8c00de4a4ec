/** Turns a prediction instance's image (inline base64 or a URI under an allowed root) into model pixels. */
import path from 'node:path';
import { decodeAdImage, ImageDecodeError } from '../lib/dataset/image';
import { NotFoundError, schemeOf, storageFor, toLocalPath } from '../lib/storage';
import { HttpError } from './errors';

/** The image fields of one instance, as the request schema admits them. */
export interface ImageFields {
  image_b64?: string;
  image_uri?: string;
  /** Where in the instance the client put the image (e.g. `photo.b64`), for messages; the field's own name otherwise. */
  sentAs?: string;
}

// Standard or URL-safe alphabet with optional padding; Buffer.from would silently skip anything else.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Decodes instance `index`'s image to size × size × 3 RGB; every client mistake is a 400 naming the instance. */
export async function decodeInstanceImage(
  fields: ImageFields,
  index: number,
  size: number,
  imageUriRoots: readonly string[],
): Promise<Uint8Array> {
  const where = `instances[${index}]`;
  if ((fields.image_b64 === undefined) === (fields.image_uri === undefined)) {
    throw new HttpError(400, 'invalid_request', `${where} needs exactly one of image_b64 or image_uri`);
  }
  const bytes =
    fields.image_b64 !== undefined
      ? decodeBase64(fields.image_b64, `${where}.${fields.sentAs ?? 'image_b64'}`)
      : await readImageUri(fields.image_uri ?? '', `${where}.${fields.sentAs ?? 'image_uri'}`, imageUriRoots);
  try {
    return await decodeAdImage(bytes, size);
  } catch (err) {
    if (err instanceof ImageDecodeError)
      throw new HttpError(400, 'invalid_image', `${where}: ${err.message}`);
    throw err;
  }
}

/** `field`: the instance's field that held the text, for messages. */
function decodeBase64(text: string, field: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  const unpadded = compact.replace(/=+$/, '');
  if (compact.length === 0 || !BASE64.test(compact) || unpadded.length % 4 === 1) {
    throw new HttpError(400, 'invalid_image', `${field} is not valid base64`);
  }
  return Buffer.from(compact, 'base64');
}

/** `field`: the instance's field that held the URI, for messages. */
async function readImageUri(uri: string, field: string, roots: readonly string[]): Promise<Buffer> {
  if (schemeOf(uri) === 'file') checkLocalUri(uri, field);
  if (!roots.some((root) => isUnder(uri, root))) {
    // Reading any path a client names would let it probe the server's disk.
    throw new HttpError(
      400,
      'image_uri_not_allowed',
      `${field} is outside the allowed image roots; send the image inline as base64, or configure MLOPS_IMAGE_URI_ROOTS`,
    );
  }
  try {
    return await storageFor(uri).read(uri);
  } catch (err) {
    if (err instanceof NotFoundError) throw new HttpError(400, 'image_not_found', `${field}: no such image`);
    if (schemeOf(uri) === 'gs')
      throw new HttpError(400, 'image_uri_not_supported', `${field}: ${(err as Error).message}`);
    // A directory, a file we may not read, a path segment that is a file: the client named something unusable.
    const code = (err as NodeJS.ErrnoException).code;
    throw new HttpError(
      400,
      'image_unreadable',
      `${field} cannot be read as an image file${typeof code === 'string' ? ` (${code})` : ''}`,
    );
  }
}

/** Rejects a local path or file:// URI that names no filesystem path (bad host, bad escapes, encoded `/`, NUL). */
function checkLocalUri(uri: string, field: string): void {
  let local: string;
  try {
    local = toLocalPath(uri);
  } catch (err) {
    throw new HttpError(
      400,
      'invalid_image_uri',
      `${field} is not a valid file URI or path: ${(err as Error).message}`,
    );
  }
  if (local.includes('\0')) {
    throw new HttpError(400, 'invalid_image_uri', `${field} must not contain a NUL byte`);
  }
}

/** True when `uri` names something inside `root` (no `..` escapes), compared in the same scheme. */
export function isUnder(uri: string, root: string): boolean {
  if (schemeOf(uri) !== schemeOf(root)) return false;
  if (schemeOf(uri) === 'gs') {
    const prefix = root.endsWith('/') ? root : `${root}/`;
    return uri.startsWith(prefix) && !uri.split('/').includes('..');
  }
  const relative = path.relative(toLocalPath(root), toLocalPath(uri));
  return relative.length > 0 && relative.split(path.sep)[0] !== '..' && !path.isAbsolute(relative);
}
