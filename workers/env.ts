/** Environment of workers and scripts, validated once at start-up with every problem listed. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TLSConfig } from '@temporalio/client';
import { z } from 'zod';

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

const flag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

/** Secrets mounted from files often end in a newline; a bearer token must not. */
const trimmed = z
  .string()
  .transform((value) => value.trim())
  .pipe(z.string().min(1, 'is empty'));

/** A path to a PEM file; read (and checked) by readWorkerEnv, not by the schema. */
const pemPath = z.string().trim().min(1, 'is empty');

export const workerEnvSchema = z.object({
  /** host:port of the Temporal frontend (gRPC), no scheme: `localhost:7233`, `ns.acct.tmprl.cloud:7233`. */
  TEMPORAL_ADDRESS: z
    .string()
    .trim()
    .min(1)
    .refine(
      (value) => !value.includes('://'),
      'must be host:port without a scheme (e.g. temporal.internal:7233)',
    )
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
  /** Temporal Cloud API key (sent as a bearer token); turns TLS on. */
  TEMPORAL_API_KEY: trimmed.optional(),
  /** TLS on or off; unset means on when any other TLS setting or an API key is given. */
  TEMPORAL_TLS: flag.optional(),
  /** mTLS client certificate and its private key (PEM files), always as a pair. */
  TEMPORAL_TLS_CERT: pemPath.optional(),
  TEMPORAL_TLS_KEY: pemPath.optional(),
  /** CA that signed the server's certificate (PEM), when the system's roots do not cover it. */
  TEMPORAL_TLS_CA: pemPath.optional(),
  /** Name to check the server's certificate against, when it differs from TEMPORAL_ADDRESS's host. */
  TEMPORAL_TLS_SERVER_NAME: z.string().trim().min(1).optional(),
  MLOPS_STORE: z.string().min(1).default('.mlops/store'),
  MLOPS_CONTROL_QUEUE: z.string().min(1).default('ml-control'),
  MLOPS_GPU_QUEUE: z.string().min(1).default('ml-gpu'),
  MLOPS_SERVING_URLS: commaList.default(['http://localhost:8080']),
  MLOPS_ADMIN_TOKEN: z.string().min(1).default('dev-admin-token'),
  /** A Prometheus server that scrapes every replica; canary analysis then queries it. */
  MLOPS_PROMETHEUS_URL: z.url().optional(),
  /** Concurrent trainings per GPU worker; one per GPU by default. */
  MLOPS_GPU_CONCURRENCY: z.coerce.number().int().positive().default(1),
  /**
   * On SIGTERM, how long a worker lets in-flight activities finish before cancelling them (a cancelled
   * training resumes from its last checkpoint on another worker). Kubernetes' terminationGracePeriodSeconds
   * must be longer.
   */
  MLOPS_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().nonnegative().default(30),
  /**
   * Worker Deployment Versioning (README, "Upgrading workers safely"), always as a pair: the Worker
   * Deployment this worker belongs to and its release's build id. Unset: unversioned.
   */
  MLOPS_WORKER_DEPLOYMENT_NAME: z
    .string()
    .trim()
    .min(1)
    .max(255)
    .refine((value) => !/[.:]/.test(value), 'must not contain "." or ":" (e.g. mlops)')
    .optional(),
  /** The release's build id: an image tag or git sha, unique to the exact worker code. */
  MLOPS_WORKER_BUILD_ID: z.string().trim().min(1).max(255).optional(),
  /** Serve the Temporal SDK's worker metrics for Prometheus on this port (`/metrics`); unset: off. */
  MLOPS_WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Interface the worker metrics endpoint binds to. */
  MLOPS_WORKER_METRICS_HOST: z.string().trim().min(1).default('0.0.0.0'),
  /** `text`: the SDK's human lines; `json`: one JSON object per line (with workflow and activity ids). */
  MLOPS_LOG_FORMAT: z.enum(['text', 'json']).default('text'),
  /** Lowest level the worker logs. */
  MLOPS_LOG_LEVEL: z
    .string()
    .trim()
    .transform((value) => value.toUpperCase())
    .pipe(z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']))
    .default('INFO'),
  /** OpenTelemetry tracing (lib/tracing.ts): `otlp`, `console` or `off`; unset: `otlp` when an OTLP endpoint is set. */
  MLOPS_TRACING: z.enum(['otlp', 'console', 'off'], { error: 'must be otlp, console or off' }).optional(),
  /** OTLP/HTTP collector base URL (`/v1/traces` is appended), e.g. http://otel-collector:4318. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://otel-collector:4318' })
    .optional(),
  /** Full OTLP/HTTP traces URL, used as it is; wins over OTEL_EXPORTER_OTLP_ENDPOINT. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .url({
      protocol: /^https?$/,
      error: 'must be an http(s) URL such as http://otel-collector:4318/v1/traces',
    })
    .optional(),
  /** The spans' `service.name`; unset: `mlops-control-worker`, `mlops-gpu-worker` or `mlops-cli`. */
  OTEL_SERVICE_NAME: z.string().trim().min(1).optional(),
});

/** The validated environment, plus the Temporal TLS settings with their files already read. */
export type WorkerEnv = z.output<typeof workerEnvSchema> & {
  /** undefined: plaintext (the local dev server); an object (maybe empty): TLS. */
  temporalTls: TLSConfig | undefined;
};

/** The environment is unusable; the message lists every problem, one per line, and is all a person needs. */
export class InvalidEnvironmentError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'InvalidEnvironmentError';
  }
}

/** Empty strings count as unset, as a blank line in a .env file or an empty Kubernetes value means. */
function withoutBlanks(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => (entry[1] ?? '').trim() !== ''),
  );
}

type PemKind = 'certificate' | 'private key';

/** Reads a PEM file named by `variable`, or returns the problem in a sentence that names the variable and path. */
function readPem(variable: string, file: string, kind: PemKind): Buffer | string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (err as Error).message;
    return `${variable}: cannot read ${kind} file ${file} (${why})`;
  }
  const text = bytes.toString('latin1');
  if (!text.includes('-----BEGIN '))
    return `${variable}: ${file} is not a PEM ${kind} (no "-----BEGIN" line)`;
  if (kind === 'private key' && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    return `${variable}: ${file} holds no PEM private key`;
  }
  return bytes;
}

/** Cross-checks the TLS variables and reads their files; returns the TLS config or the problems found. */
function resolveTemporalTls(env: Record<string, string>): { tls?: TLSConfig; problems: string[] } {
  const problems: string[] = [];
  const cert = env.TEMPORAL_TLS_CERT?.trim();
  const key = env.TEMPORAL_TLS_KEY?.trim();
  const ca = env.TEMPORAL_TLS_CA?.trim();
  const serverName = env.TEMPORAL_TLS_SERVER_NAME?.trim();
  const apiKey = env.TEMPORAL_API_KEY?.trim();
  const tlsFlag = env.TEMPORAL_TLS?.trim();

  if (cert && !key) problems.push('TEMPORAL_TLS_KEY: required with TEMPORAL_TLS_CERT (mTLS needs both)');
  if (key && !cert) problems.push('TEMPORAL_TLS_CERT: required with TEMPORAL_TLS_KEY (mTLS needs both)');
  const implied = [
    cert && 'TEMPORAL_TLS_CERT',
    key && 'TEMPORAL_TLS_KEY',
    ca && 'TEMPORAL_TLS_CA',
    serverName && 'TEMPORAL_TLS_SERVER_NAME',
    apiKey && 'TEMPORAL_API_KEY',
  ].filter((name): name is string => Boolean(name));
  const off = tlsFlag === 'false' || tlsFlag === '0';
  if (off && implied.length > 0) {
    problems.push(
      `TEMPORAL_TLS: is ${tlsFlag} but ${implied.join(', ')} ${implied.length > 1 ? 'need' : 'needs'} TLS`,
    );
  }

  const files: { crt?: Buffer; key?: Buffer; ca?: Buffer } = {};
  for (const [variable, file, kind, slot] of [
    ['TEMPORAL_TLS_CERT', cert, 'certificate', 'crt'],
    ['TEMPORAL_TLS_KEY', key, 'private key', 'key'],
    ['TEMPORAL_TLS_CA', ca, 'certificate', 'ca'],
  ] as const) {
    if (!file) continue;
    const read = readPem(variable, file, kind);
    if (typeof read === 'string') problems.push(read);
    else files[slot] = read;
  }

  const on = tlsFlag === 'true' || tlsFlag === '1' || (!off && implied.length > 0);
  if (!on || problems.length > 0) return { problems };
  return {
    problems,
    tls: {
      ...(files.crt && files.key ? { clientCertPair: { crt: files.crt, key: files.key } } : {}),
      ...(files.ca ? { serverRootCACertificate: files.ca } : {}),
      ...(serverName ? { serverNameOverride: serverName } : {}),
    },
  };
}

/** A versioned worker needs both its deployment and its build id; one alone is a half-done release. */
function workerDeploymentPairProblems(env: Record<string, string>): string[] {
  const name = env.MLOPS_WORKER_DEPLOYMENT_NAME;
  const buildId = env.MLOPS_WORKER_BUILD_ID;
  if (name && !buildId)
    return ['MLOPS_WORKER_BUILD_ID: required with MLOPS_WORKER_DEPLOYMENT_NAME (versioning needs both)'];
  if (buildId && !name)
    return ['MLOPS_WORKER_DEPLOYMENT_NAME: required with MLOPS_WORKER_BUILD_ID (versioning needs both)'];
  return [];
}

/**
 * Parses the environment and reads the Temporal TLS files it names, throwing one error that lists
 * every problem (bad values, missing pairs, unreadable files) so a pod's first log line says it all.
 */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const present = withoutBlanks(env);
  const parsed = workerEnvSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  const tls = resolveTemporalTls(present);
  problems.push(...tls.problems);
  problems.push(...workerDeploymentPairProblems(present));
  if (!parsed.success || problems.length > 0) throw new InvalidEnvironmentError(problems);
  // Stores are shared by processes started from different folders: pin local ones to absolute paths.
  const store = parsed.data.MLOPS_STORE;
  return {
    ...parsed.data,
    MLOPS_STORE: store.startsWith('gs://') ? store : path.resolve(store),
    temporalTls: tls.tls,
  };
}

/** The connection options both `Connection.connect` (client, CLI) and `NativeConnection.connect` (workers) take. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/** Connection options for the Temporal SDK derived from the validated environment. */
export function temporalConnectionOptions(env: WorkerEnv): TemporalConnectionOptions {
  return {
    address: env.TEMPORAL_ADDRESS,
    ...(env.temporalTls ? { tls: env.temporalTls } : {}),
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
  };
}

/** One line for logs: where the process connects and how, never the secrets themselves. */
export function describeTemporalConnection(env: WorkerEnv): string {
  const tls = env.temporalTls;
  const how = !tls
    ? 'plaintext'
    : [
        'TLS',
        tls.clientCertPair ? 'mTLS client certificate' : undefined,
        tls.serverRootCACertificate ? 'custom CA' : undefined,
        tls.serverNameOverride ? `server name ${tls.serverNameOverride}` : undefined,
        env.TEMPORAL_API_KEY ? 'API key' : undefined,
      ]
        .filter(Boolean)
        .join(', ');
  return `${env.TEMPORAL_ADDRESS} namespace ${env.TEMPORAL_NAMESPACE} (${how})`;
}
