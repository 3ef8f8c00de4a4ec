/** Runs the `mlops` CLI as a user would: a child process in a folder of their choosing. */
import { execFile } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `mlops …args` in `cwd`, with `env` added to this process's environment. */
export function mlops(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    // The repository's tsx, so the command runs from any folder as an installed bin would.
    execFile(
      path.join(REPO, 'node_modules', '.bin', 'tsx'),
      [path.join(REPO, 'scripts', 'mlops.ts'), ...args],
      { cwd, timeout: 120_000, env: { ...process.env, MLOPS_DEBUG: '', ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}
