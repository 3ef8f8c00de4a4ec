/** Where a model's data schema lives in the store, and its create-once write. */
import { joinUri, readJsonIfExists, storageFor } from '../../lib/storage/index';
import { parseSchema, type DatasetSchema } from './schema-inference';

/** `<store>/schemas/<model>/schema.json`. */
export function schemaUriFor(storeUri: string, model: string): string {
  return joinUri(storeUri, 'schemas', model, 'schema.json');
}

/** The model's stored schema, or undefined when it has none yet. */
export async function readSchema(uri: string): Promise<DatasetSchema | undefined> {
  const stored = await readJsonIfExists<unknown>(uri);
  return stored === undefined ? undefined : parseSchema(stored, uri);
}

/**
 * Stores `candidate` unless the model already has a schema, and returns the one stored: when two
 * first runs race, one create wins and both check their data against the winner.
 */
export async function ensureSchema(uri: string, candidate: DatasetSchema): Promise<DatasetSchema> {
  if (await storageFor(uri).writeIfAbsent(uri, JSON.stringify(candidate, null, 2))) return candidate;
  const stored = await readSchema(uri);
  if (!stored) throw new Error(`${uri} was created concurrently but cannot be read back`);
  return stored;
}
