/** Runs one of the project's TypeScript entry points as a child process with its log in a file. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface ManagedProcess {
  name: string;
  logFile: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL if it has not exited after the grace period. */
  stop(graceMs?: number): Promise<void>;
}

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export async function startEntryPoint(options: {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
}): Promise<ManagedProcess> {
  await fs.mkdir(options.logDir, { recursive: true });
  const logFile = path.join(options.logDir, `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, options.entry)], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name: options.name,
    logFile,
    child,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      log.end();
    },
  };
}

/** Reads the last lines of a log, to explain why a process did not come up. */
export async function tailLog(logFile: string, lines = 20): Promise<string> {
  const text = await fs.readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
