/** A small synthetic dataset in a temporary folder, removed on close. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateDataset, type GenerateResult } from '../../lib/dataset/synthetic';

export interface TinyDatasetOptions {
  rows?: number;
  seed?: number;
  corrupt?: number;
  drift?: boolean;
}

export interface TinyDataset extends AsyncDisposable {
  dir: string;
  result: GenerateResult;
  close(): Promise<void>;
}

/** Generates a dataset (60 rows unless told) into a fresh temp dir; `await using` or close() removes it. */
export async function makeTinyDataset(options: TinyDatasetOptions = {}): Promise<TinyDataset> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-tiny-dataset-'));
  const close = () => fs.rm(dir, { recursive: true, force: true });
  try {
    const result = await generateDataset({ ...options, outDir: dir, rows: options.rows ?? 60 });
    return { dir, result, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await close();
    throw err;
  }
}
