/** Opens the storage backend that serves a URI's scheme. */
import { LocalStorage } from './local-storage';
import type { Storage } from './storage';
import { schemeOf } from './uri';

export { NotFoundError, type Storage } from './storage';
export { joinUri, resolveUri, schemeOf, toLocalPath } from './uri';

const local = new LocalStorage();

/** Storage for any URI this project understands; gs:// arrives with GCS support. */
export function storageFor(uri: string): Storage {
  switch (schemeOf(uri)) {
    case 'file':
      return local;
    case 'gs':
      throw new Error(`gs:// URIs are not supported yet (${uri}); use a local path`);
  }
}

/** Reads a JSON object, or undefined when absent. */
export async function readJsonIfExists<T>(uri: string): Promise<T | undefined> {
  const storage = storageFor(uri);
  if (!(await storage.exists(uri))) return undefined;
  return JSON.parse((await storage.read(uri)).toString('utf8')) as T;
}

export async function writeJson(uri: string, value: unknown): Promise<void> {
  await storageFor(uri).write(uri, JSON.stringify(value, null, 2));
}
