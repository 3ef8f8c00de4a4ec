/**
 * A real GCS emulator (fake-gcs-server) for tests: started on a free port with an in-memory
 * backend and one bucket, and pointed to by STORAGE_EMULATOR_HOST for this process and the
 * processes it spawns, until closed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { getFreePort } from '../../lib/temporal-server';

export interface GcsEmulatorHandle {
  /** The emulator's base URL, also in process.env.STORAGE_EMULATOR_HOST while it runs. */
  host: string;
  bucket: string;
  /** `gs://<bucket>/<path>`. */
  uri(objectPath?: string): string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface GcsEmulatorOptions {
  /** Default `mlops-test`. */
  bucket?: string;
}

/** Where scripts/dev/install-fake-gcs.sh builds it; FAKE_GCS_SERVER_PATH overrides. */
export function fakeGcsServerBinary(): string {
  return (
    process.env.FAKE_GCS_SERVER_PATH ??
    path.resolve(__dirname, '..', '..', '.mlops', 'tools', 'fake-gcs-server', 'fake-gcs-server')
  );
}

const READY_TIMEOUT_MS = 15_000;

export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulatorHandle> {
  const binary = fakeGcsServerBinary();
  await fs.access(binary).catch(() => {
    throw new Error(
      `no fake-gcs-server at ${binary}: run scripts/dev/install-fake-gcs.sh (or set FAKE_GCS_SERVER_PATH)`,
    );
  });
  const bucket = options.bucket ?? 'mlops-test';
  const port = await getFreePort();
  const host = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      '-scheme=http',
      '-host=127.0.0.1',
      `-port=${port}`,
      '-backend=memory',
      // The URL it writes into resumable-upload sessions and media links.
      `-external-url=${host}`,
      `-public-host=127.0.0.1:${port}`,
      '-log-level=error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const previousHost = process.env.STORAGE_EMULATOR_HOST;
  const close = async () => {
    if (process.env.STORAGE_EMULATOR_HOST === host) {
      if (previousHost === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = previousHost;
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const created = await fetch(`${host}/storage/v1/b?project=mlops-test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: bucket }),
    }).then(
      (response) => response.ok,
      () => false,
    );
    if (created) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await close();
      throw new Error(`fake-gcs-server did not start at ${host}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.env.STORAGE_EMULATOR_HOST = host;
  return {
    host,
    bucket,
    uri: (objectPath = '') => `gs://${bucket}/${objectPath.replace(/^\/+/, '')}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
