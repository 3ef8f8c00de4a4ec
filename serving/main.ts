/** Entry point of the prediction server: configuration from the environment, graceful stop on SIGINT/SIGTERM. */
import { z } from 'zod';
import { loadTfBackend } from '../lib/model';
import cluster from 'node:cluster';
import os from 'node:os';
import { runPrimary } from './cluster';
import { MODEL_NAME_PATTERN } from './context';
import { createPredictionServer, DEFAULT_FEEDBACK_MAX_AGE_MS } from './server';

/** The admin token used when MLOPS_ADMIN_TOKEN is unset; fine on a laptop, never in a shared deployment. */
export const DEV_ADMIN_TOKEN = 'dev-admin-token';
/**
 * Micro-batching defaults of the deployed server. A wait of 0 batches only requests ready in the same
 * event-loop turn: bench/serve.ts measured it faster than no batching at every concurrency, while a 2 ms
 * wait cost a lone client ~3 ms per request.
 */
export const DEFAULT_BATCH_MAX_SIZE = 32;
/** See DEFAULT_BATCH_MAX_SIZE. */
export const DEFAULT_BATCH_MAX_WAIT_MS = 0;

const commaList = (name: string) =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    )
    .pipe(z.array(z.string()).min(1, `${name} must name at least one item`));

const booleanFlag = (name: string) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: `${name} must be true or false` })
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** The environment the server reads, validated once at start-up with every problem listed. */
export const servingEnvSchema = z.object({
  MLOPS_STORE: z.string().min(1).default('.mlops/store'),
  // Absent: every model deployed in the store is served, found as its first version deploys.
  MLOPS_MODELS: commaList('MLOPS_MODELS')
    .refine((models) => models.every((model) => MODEL_NAME_PATTERN.test(model)), {
      message: 'MLOPS_MODELS entries may contain only letters, digits, _ . and -',
    })
    .optional(),
  MLOPS_ADMIN_TOKEN: z.string().min(1).optional(),
  MLOPS_IMAGE_URI_ROOTS: commaList('MLOPS_IMAGE_URI_ROOTS').optional(),
  MLOPS_POLL_INTERVAL_MS: z.coerce.number().int().min(50).default(1000),
  // Micro-batching is off when the size is 0 or 1.
  MLOPS_BATCH_MAX_SIZE: z.coerce.number().int().min(0).max(4096).default(DEFAULT_BATCH_MAX_SIZE),
  MLOPS_BATCH_MAX_WAIT_MS: z.coerce.number().min(0).max(1000).default(DEFAULT_BATCH_MAX_WAIT_MS),
  MLOPS_FEEDBACK_KEY: z.string().min(16, 'MLOPS_FEEDBACK_KEY must be at least 16 characters').optional(),
  MLOPS_FEEDBACK_MAX_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_FEEDBACK_MAX_AGE_MS / 1000),
  MLOPS_LOG_PREDICTIONS: booleanFlag('MLOPS_LOG_PREDICTIONS').default(true),
  // /admin/faults injects errors and latency: for drills and tests, never on by default.
  MLOPS_FAULT_INJECTION: booleanFlag('MLOPS_FAULT_INJECTION').default(false),
  MLOPS_REPLICA_ID: z
    .string()
    .regex(/^[\w.-]{1,64}$/, 'MLOPS_REPLICA_ID may contain only letters, digits, _ . and - (at most 64)')
    .optional(),
  // One process per core on one port (node:cluster); 1 runs the server in this process alone.
  MLOPS_SERVING_PROCESSES: z.coerce.number().int().min(1).max(256).default(os.availableParallelism()),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Parsed serving configuration. */
export type ServingEnv = z.output<typeof servingEnvSchema>;

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Validates the environment, failing with every problem at once. A server reachable from other
 * machines must have its own admin token (the development one is public), and a replica among
 * several its shared feedback key.
 */
export function parseServingEnv(env: NodeJS.ProcessEnv): ServingEnv {
  const result = servingEnvSchema
    .refine((parsed) => isLoopbackHost(parsed.HOST) || parsed.MLOPS_ADMIN_TOKEN !== undefined, {
      path: ['MLOPS_ADMIN_TOKEN'],
      message:
        'must be set when HOST is not a loopback address (HOST=0.0.0.0 listens beyond this machine, ' +
        'and the development admin token is public)',
    })
    .refine(
      (parsed) =>
        isLoopbackHost(parsed.HOST) ||
        parsed.MLOPS_REPLICA_ID === undefined ||
        parsed.MLOPS_FEEDBACK_KEY !== undefined,
      {
        path: ['MLOPS_FEEDBACK_KEY'],
        message:
          'must be set when this server is one replica of several (MLOPS_REPLICA_ID) listening beyond loopback: ' +
          'replicas behind one load balancer must share the key that signs prediction ids, or feedback reaching ' +
          'another replica than the one that answered is refused as unknown',
      },
    )
    .safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid prediction server configuration:\n${problems.join('\n')}`);
  }
  return result.data;
}

/** The primary's log lines, in the JSON shape the workers' pino lines have. */
const primaryLog = {
  info: (obj: object, msg: string) =>
    console.log(JSON.stringify({ level: 30, time: Date.now(), ...obj, msg })),
  error: (obj: object, msg: string) =>
    console.error(JSON.stringify({ level: 50, time: Date.now(), ...obj, msg })),
};

async function main(): Promise<void> {
  const env = parseServingEnv(process.env);
  const clusterWorker = env.MLOPS_SERVING_PROCESSES > 1 && cluster.isWorker;
  if (env.MLOPS_SERVING_PROCESSES > 1 && cluster.isPrimary) {
    runPrimary(env.MLOPS_SERVING_PROCESSES, primaryLog);
    return;
  }
  const server = createPredictionServer({
    storeUri: env.MLOPS_STORE,
    ...(env.MLOPS_MODELS ? { models: env.MLOPS_MODELS } : {}),
    adminToken: env.MLOPS_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
    host: env.HOST,
    port: env.PORT,
    pollIntervalMs: env.MLOPS_POLL_INTERVAL_MS,
    imageUriRoots: env.MLOPS_IMAGE_URI_ROOTS,
    logger: { level: env.LOG_LEVEL },
    batching: { maxBatchSize: env.MLOPS_BATCH_MAX_SIZE, maxWaitMs: env.MLOPS_BATCH_MAX_WAIT_MS },
    // Replicas behind one load balancer must share this key, or feedback reaching another replica is unknown.
    feedbackKey: env.MLOPS_FEEDBACK_KEY,
    feedbackMaxAgeMs: env.MLOPS_FEEDBACK_MAX_AGE_SECONDS * 1000,
    logPredictions: env.MLOPS_LOG_PREDICTIONS,
    // Each process writes its own log part files, so each needs a name of its own.
    ...(env.MLOPS_REPLICA_ID
      ? { replicaId: clusterWorker ? `${env.MLOPS_REPLICA_ID}-p${cluster.worker!.id}` : env.MLOPS_REPLICA_ID }
      : {}),
    faultInjection: env.MLOPS_FAULT_INJECTION,
    clusterWorker,
  });
  if (env.MLOPS_ADMIN_TOKEN === undefined) {
    server.app.log.warn(
      `MLOPS_ADMIN_TOKEN is not set: admin routes accept the development token "${DEV_ADMIN_TOKEN}"`,
    );
  }
  // The fastest backend that loads (tfjs-node-gpu, tfjs-node, WebAssembly, pure JS; MLOPS_TF_BACKEND overrides), chosen before any model loads.
  const backend = await loadTfBackend(undefined, { inference: true });
  server.app.log.info({ backend: backend.backend, device: backend.device }, 'TF.js backend ready');
  const shutdown = (signal: NodeJS.Signals) => {
    server.app.log.info({ signal }, 'stopping: draining in-flight requests');
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  const { url } = await server.start();
  server.app.log.info(
    { url, models: env.MLOPS_MODELS ?? 'every deployed model', store: env.MLOPS_STORE },
    'prediction server listening',
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
