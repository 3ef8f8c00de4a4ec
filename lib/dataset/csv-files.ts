/** Finding a dataset's CSV files in a store, and reading a byte range of one. */
import path from 'node:path';
import { schemeOf, storageFor, toLocalPath } from '../storage';

/** The file the synthetic generator writes beside ads.csv: true click probabilities, not ads. */
export const GROUND_TRUTH_FILE = 'ground_truth.csv';

/** A CSV of a dataset: where it is and its name relative to the dataset's URI. */
export interface DataCsv {
  uri: string;
  /** Path relative to the dataset URI ("ads.csv", "2026-11/part-0001.csv"); quarantine rows name it. */
  name: string;
}

/** The folder a URI is in: images named in a CSV are relative to it. */
export function parentUri(uri: string): string {
  return schemeOf(uri) === 'file' ? path.dirname(toLocalPath(uri)) : uri.slice(0, uri.lastIndexOf('/'));
}

/**
 * The data CSVs of a dataset, sorted by name: the file itself when the URI names a .csv, else every
 * *.csv under the prefix (at any depth) but the generator's ground-truth sidecar. `skipped` lists
 * the sidecars found, so a summary can say what was not read.
 */
export async function listDataCsvs(dataUri: string): Promise<{ files: DataCsv[]; skipped: string[] }> {
  if (dataUri.toLowerCase().endsWith('.csv')) {
    const exists = await storageFor(dataUri).exists(dataUri);
    return { files: exists ? [{ uri: dataUri, name: path.posix.basename(dataUri) }] : [], skipped: [] };
  }
  const root = schemeOf(dataUri) === 'file' ? toLocalPath(dataUri) : dataUri.replace(/\/+$/, '');
  const separator = schemeOf(dataUri) === 'file' ? path.sep : '/';
  const files: DataCsv[] = [];
  const skipped: string[] = [];
  // TODO(storage): a suffix or glob filter on list() would spare listing every image.
  for (const uri of await storageFor(dataUri).list(dataUri)) {
    // A GCS prefix "data" also matches "data2/…": keep what is really inside the folder.
    if (!uri.startsWith(root + separator) || !uri.toLowerCase().endsWith('.csv')) continue;
    const name = uri
      .slice(root.length + 1)
      .split(separator)
      .join('/');
    if (path.posix.basename(name) === GROUND_TRUTH_FILE) skipped.push(name);
    else files.push({ uri, name });
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { files, skipped: skipped.sort() };
}

/**
 * Reads bytes [start, end) of an object with a ranged read, so memory holds only the range.
 * Throws RangeError when the object ends before `end`: it changed since the range was planned.
 */
export async function readByteRange(uri: string, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  const stream = await storageFor(uri).createReadStream(uri, { start, end: end - 1 });
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) parts.push(chunk);
  const data = Buffer.concat(parts);
  if (data.length !== end - start) {
    throw new RangeError(
      `${uri} has ${data.length} bytes where the planned range ${start}-${end} should have ${end - start}: it changed`,
    );
  }
  return data;
}
