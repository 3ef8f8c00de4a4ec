/**
 * Storage on local disk: atomic writes by rename, exclusive creates by the 'wx' flag, and
 * compare-and-swap under a lock file shared by every process on the machine.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError, type ReadRange, type Storage, type VersionedObject } from './storage';
import { toLocalPath } from './uri';

/** A lock this old belongs to a process that crashed while holding it: hold times are milliseconds. */
export const STALE_LOCK_MS = 30_000;
/** Longer than STALE_LOCK_MS, so a waiter outlives any lock it may have to break. */
const LOCK_WAIT_MS = 2 * STALE_LOCK_MS;

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function isNotFound(err: unknown): boolean {
  return errorCode(err) === 'ENOENT';
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Creates `file` only if absent; false when it exists. */
async function createExclusive(file: string, content: string): Promise<boolean> {
  try {
    await fs.writeFile(file, content, { flag: 'wx' });
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
}

/** Short, jittered and growing: waiters spread out instead of retrying in lockstep. */
function backoffMs(attempt: number): number {
  return 1 + Math.random() * Math.min(2 + 2 * attempt, 50);
}

/**
 * Removes `lockFile` if it is stale. Breakers take a second lock first and look again, so two
 * processes that both saw the same stale lock cannot both delete: the slower one would remove
 * the fresh lock the faster one's successor just took.
 */
async function breakIfStale(lockFile: string): Promise<void> {
  const seen = await fs.stat(lockFile).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (!seen || Date.now() - seen.mtimeMs <= STALE_LOCK_MS) return;
  const breaker = `${lockFile}.break.lock`;
  if (!(await createExclusive(breaker, String(process.pid)))) {
    // A breaker that crashed mid-break would block every breaker after it.
    const breakerStat = await fs.stat(breaker).catch(() => undefined);
    if (breakerStat && Date.now() - breakerStat.mtimeMs > STALE_LOCK_MS)
      await fs.rm(breaker, { force: true });
    return;
  }
  try {
    const again = await fs.stat(lockFile).catch(() => undefined);
    if (again && again.ino === seen.ino && again.mtimeMs === seen.mtimeMs) {
      await fs.rm(lockFile, { force: true });
    }
  } finally {
    await fs.rm(breaker, { force: true });
  }
}

/** Takes `lockFile`, waiting for its holder and breaking it when stale; returns the owner token. */
async function acquireLock(lockFile: string): Promise<string> {
  const token = `${randomUUID()} pid ${process.pid}`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    if (await createExclusive(lockFile, token)) return token;
    await breakIfStale(lockFile);
    if (Date.now() > deadline) {
      throw new Error(
        `waited ${LOCK_WAIT_MS / 1000} s for the lock ${lockFile}; if no process is writing, delete that file`,
      );
    }
    await sleep(backoffMs(attempt));
  }
}

/** Whether the lock still holds our token: a process paused past STALE_LOCK_MS may have lost it. */
async function holdsLock(lockFile: string, token: string): Promise<boolean> {
  return (await readIfExists(lockFile))?.toString('utf8') === token;
}

async function releaseLock(lockFile: string, token: string): Promise<void> {
  // Never remove a lock that a breaker handed to someone else.
  if (await holdsLock(lockFile, token)) await fs.rm(lockFile, { force: true });
}

/** Whether a listing shows this file: temporary files and locks are the store's own. */
function isListed(name: string): boolean {
  return !name.endsWith('.tmp') && !name.endsWith('.lock');
}

/**
 * Adds the files under `dir` whose names (`relative` + their name) sort at or after `offset` in GCS's
 * order, by UTF-8 bytes, to `out`.
 */
async function collectFrom(dir: string, relative: string, offset: Buffer, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  for (const entry of entries) {
    const name = `${relative}${entry.name}`;
    if (entry.isDirectory()) {
      // Every name under the folder starts with `folder`: none reaches the offset if that start sorts before it.
      const folder = Buffer.from(`${name}/`, 'utf8');
      if (Buffer.compare(folder, offset.subarray(0, folder.length)) < 0) continue;
      await collectFrom(path.join(dir, entry.name), `${name}/`, offset, out);
    } else if (
      entry.isFile() &&
      isListed(entry.name) &&
      Buffer.compare(Buffer.from(name, 'utf8'), offset) >= 0
    ) {
      out.push(path.join(dir, entry.name));
    }
  }
}

export class LocalStorage implements Storage {
  async read(uri: string): Promise<Buffer> {
    try {
      return await fs.readFile(toLocalPath(uri));
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(uri);
      throw err;
    }
  }

  async createReadStream(uri: string, range: ReadRange = {}): Promise<Readable> {
    const file = toLocalPath(uri);
    if (!(await this.exists(uri))) throw new NotFoundError(uri);
    return createReadStream(file, { start: range.start, end: range.end });
  }

  async write(uri: string, data: Buffer | string): Promise<void> {
    const file = toLocalPath(uri);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const temporary = `${file}.${randomUUID()}.tmp`;
    await fs.writeFile(temporary, data);
    await fs.rename(temporary, file);
  }

  async writeIfAbsent(uri: string, data: Buffer | string): Promise<boolean> {
    const file = toLocalPath(uri);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Write the content beside, then link: the name appears only with its whole content.
    const temporary = `${file}.${randomUUID()}.tmp`;
    await fs.writeFile(temporary, data);
    try {
      await fs.link(temporary, file);
      return true;
    } catch (err) {
      if (errorCode(err) === 'EEXIST') return false;
      throw err;
    } finally {
      await fs.rm(temporary, { force: true });
    }
  }

  async readVersioned(uri: string): Promise<VersionedObject | undefined> {
    const data = await readIfExists(toLocalPath(uri));
    return data && { data, generation: sha256(data) };
  }

  async writeIfGeneration(uri: string, data: Buffer | string, generation: string | null): Promise<boolean> {
    const file = toLocalPath(uri);
    const lockFile = `${file}.lock`;
    await fs.mkdir(path.dirname(file), { recursive: true });
    // The content goes to disk before the lock is taken, so the lock is held only to compare and rename.
    const temporary = `${file}.${randomUUID()}.tmp`;
    await fs.writeFile(temporary, data);
    try {
      const token = await acquireLock(lockFile);
      try {
        const current = await readIfExists(file);
        if ((current ? sha256(current) : null) !== generation) return false;
        if (!(await holdsLock(lockFile, token))) return false;
        if (generation === null) {
          // A link fails if the name exists, even one made by a writer that takes no lock.
          try {
            await fs.link(temporary, file);
          } catch (err) {
            if (errorCode(err) === 'EEXIST') return false;
            throw err;
          }
        } else {
          await fs.rename(temporary, file);
        }
        return true;
      } finally {
        await releaseLock(lockFile, token);
      }
    } finally {
      await fs.rm(temporary, { force: true });
    }
  }

  async exists(uri: string): Promise<boolean> {
    try {
      await fs.access(toLocalPath(uri));
      return true;
    } catch {
      return false;
    }
  }

  async list(prefixUri: string): Promise<string[]> {
    const root = toLocalPath(prefixUri);
    try {
      const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
      return entries
        .filter((entry) => entry.isFile() && isListed(entry.name))
        .map((entry) => path.join(entry.parentPath, entry.name))
        .sort();
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  async listFrom(prefixUri: string, startOffset: string): Promise<string[]> {
    const found: string[] = [];
    await collectFrom(toLocalPath(prefixUri), '', Buffer.from(startOffset, 'utf8'), found);
    return found.sort();
  }

  async delete(uri: string): Promise<void> {
    await fs.rm(toLocalPath(uri), { force: true, recursive: true });
  }
}
