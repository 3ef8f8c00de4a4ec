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
  return uri.startsWith('file://') ? fileURLToPath(uri) : path.resolve(uri);
}

/** Joins URI segments with single slashes, keeping the scheme. */
export function joinUri(base: string, ...parts: string[]): string {
  if (schemeOf(base) === 'file') return path.join(toLocalPath(base), ...parts);
  const trimmed = [base.replace(/\/+$/, ''), ...parts.map((part) => part.replace(/^\/+|\/+$/g, ''))];
  return trimmed.filter((part) => part.length > 0).join('/');
}

/** Resolves a possibly relative reference (an image path in a CSV) against the folder it came from. */
export function resolveUri(baseDir: string, reference: string): string {
  if (reference.startsWith('gs://') || reference.startsWith('file://') || path.isAbsolute(reference)) {
    return reference;
  }
  return joinUri(baseDir, reference);
}
