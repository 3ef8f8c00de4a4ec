/** Pure helpers for storage URIs: local paths, file:// and gs:// URIs share one joining rule. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type UriScheme = 'file' | 'gs';

export function schemeOf(uri: string): UriScheme {
  if (uri.startsWith('gs://')) return 'gs';
  return 'file';
}

/** Turns a local path or file:// URI into an absolute filesystem path. */
export function toLocalPath(uri: string): string {
  if (schemeOf(uri) === 'gs') throw new Error(`${uri} is a GCS object, not a local path`);
  return uri.startsWith('file://') ? fileURLToPath(uri) : path.resolve(uri);
}

/** A gs:// URI's bucket and object name (the name is '' for the bucket itself). */
export interface GsLocation {
  bucket: string;
  name: string;
}

/** Splits `gs://bucket/some/object` into its bucket and object name. */
export function parseGsUri(uri: string): GsLocation {
  const match = /^gs:\/\/([^/]+)\/?(.*)$/s.exec(uri);
  if (!match) throw new Error(`${uri} is not a gs://bucket/object URI`);
  return { bucket: match[1]!, name: match[2]! };
}

/** The gs:// URI of an object. */
export function formatGsUri(bucket: string, name: string): string {
  return `gs://${bucket}/${name}`;
}

/**
 * Joins URI segments with single slashes, keeping the scheme. `.` and `..` segments are resolved
 * in gs:// URIs as they are in paths, so a relative reference names the same object on both.
 */
export function joinUri(base: string, ...parts: string[]): string {
  if (schemeOf(base) === 'file') return path.join(toLocalPath(base), ...parts);
  const { bucket, name } = parseGsUri(base);
  const segments = [name, ...parts]
    .map((part) => part.replace(/^\/+|\/+$/g, ''))
    .filter((part) => part.length > 0);
  if (segments.length === 0) return `gs://${bucket}`;
  const joined = path.posix.normalize(segments.join('/'));
  return joined === '.' ? `gs://${bucket}` : formatGsUri(bucket, joined);
}

/** Resolves a possibly relative reference (an image path in a CSV) against the folder it came from. */
export function resolveUri(baseDir: string, reference: string): string {
  if (reference.startsWith('gs://') || reference.startsWith('file://') || path.isAbsolute(reference)) {
    return reference;
  }
  return joinUri(baseDir, reference);
}
