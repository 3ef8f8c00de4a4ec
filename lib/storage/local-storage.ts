/** Storage on local disk: atomic writes by rename, exclusive creates by the 'wx' flag. */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { NotFoundError, type Storage } from './storage';
import { toLocalPath } from './uri';

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
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

  async createReadStream(uri: string): Promise<Readable> {
    const file = toLocalPath(uri);
    if (!(await this.exists(uri))) throw new NotFoundError(uri);
    return createReadStream(file);
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
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
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
        .filter((entry) => entry.isFile() && !entry.name.endsWith('.tmp'))
        .map((entry) => path.join(entry.parentPath, entry.name))
        .sort();
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  async delete(uri: string): Promise<void> {
    await fs.rm(toLocalPath(uri), { force: true, recursive: true });
  }
}
