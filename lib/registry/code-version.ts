/** Which code built a model: the package version and, where it can be found, the git commit. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The nearest folder at or above `start` holding a package.json (sources run from lib/, builds from dist/lib/). */
function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..', '..');
  }
}

/** The project's own root, whatever the working directory of the process. */
export const PROJECT_ROOT = findPackageRoot(path.resolve(__dirname, '..', '..'));

export interface CodeVersion {
  /** `version` of the project's package.json. */
  packageVersion: string;
  /** Absent when neither MLOPS_GIT_COMMIT nor a git checkout tells it. */
  gitCommit?: string;
  /** Uncommitted changes in the checkout; absent when unknown (the commit came from the environment). */
  gitDirty?: boolean;
}

export interface ReadCodeVersionOptions {
  root?: string;
  env?: NodeJS.ProcessEnv;
}

async function git(root: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('git', args, { cwd: root, timeout: 10_000 });
    return stdout;
  } catch {
    // No git binary, no checkout, or a checkout git refuses (owned by another user): unknown.
    return undefined;
  }
}

/** Reads the code version afresh; most callers want the cached getCodeVersion. */
export async function readCodeVersion({
  root = PROJECT_ROOT,
  env = process.env,
}: ReadCodeVersionOptions = {}): Promise<CodeVersion> {
  const pkg = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { version?: unknown };
  const packageVersion = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  // Container images carry no .git: the build passes the commit in.
  const fromEnv = env.MLOPS_GIT_COMMIT?.trim();
  if (fromEnv) return { packageVersion, gitCommit: fromEnv };
  const head = (await git(root, ['rev-parse', 'HEAD']))?.trim();
  if (!head) return { packageVersion };
  const status = await git(root, ['status', '--porcelain']);
  return {
    packageVersion,
    gitCommit: head,
    ...(status === undefined ? {} : { gitDirty: status.trim().length > 0 }),
  };
}

let cached: Promise<CodeVersion> | undefined;

/** The running code's version, read once per process. */
export function getCodeVersion(): Promise<CodeVersion> {
  cached ??= readCodeVersion().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}
