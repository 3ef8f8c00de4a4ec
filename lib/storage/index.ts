/** Opens the storage backend that serves a URI's scheme. */
import { setTimeout as sleep } from 'node:timers/promises';
import { GcsStorage } from './gcs-storage';
import { LocalStorage } from './local-storage';
import type { Storage } from './storage';
import { schemeOf } from './uri';

export { NotFoundError, type ReadRange, type Storage, type VersionedObject } from './storage';
export { joinUri, parseGsUri, resolveUri, schemeOf, toLocalPath } from './uri';

const local = new LocalStorage();
// Made on first use: a process that never touches gs:// never loads credentials.
let gcs: GcsStorage | undefined;

/** Storage for any URI this project understands: local paths, file:// and gs://. */
export function storageFor(uri: string): Storage {
  switch (schemeOf(uri)) {
    case 'file':
      return local;
    case 'gs':
      return (gcs ??= new GcsStorage());
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

export interface UpdateJsonOptions {
  /** Read-update-write rounds before giving up; each lost round means another writer won. */
  maxAttempts?: number;
}

const DEFAULT_UPDATE_ATTEMPTS = 100;

/**
 * Read-modify-write of a JSON object that concurrent writers (other activities, other processes,
 * other machines) cannot lose: `update` gets the current value (undefined when absent) and
 * returns the next one, which is written only if nobody wrote in between; otherwise it runs again
 * on the newer value. So `update` must be a pure function of its argument. It may throw to
 * abort: the error propagates unchanged and nothing is written. An update that changes nothing
 * writes nothing. Returns the value stored.
 */
export async function updateJson<T>(
  uri: string,
  update: (current: T | undefined) => T,
  options: UpdateJsonOptions = {},
): Promise<T> {
  const storage = storageFor(uri);
  const maxAttempts = options.maxAttempts ?? DEFAULT_UPDATE_ATTEMPTS;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const current = await storage.readVersioned(uri);
    const currentText = current?.data.toString('utf8');
    const next = update(currentText === undefined ? undefined : (JSON.parse(currentText) as T));
    const nextText = JSON.stringify(next, null, 2);
    if (nextText === currentText) return next;
    if (await storage.writeIfGeneration(uri, nextText, current?.generation ?? null)) return next;
    // Jittered and growing, so the writers that lost this round do not collide again in the next.
    await sleep(Math.random() * Math.min(5 + 5 * attempt, 100));
  }
  throw new Error(
    `could not update ${uri}: ${maxAttempts} attempts in a row lost to concurrent writers; try again`,
  );
}
