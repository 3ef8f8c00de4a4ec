/** Environment of workers and scripts, validated once at start-up with every problem listed. */
import path from 'node:path';
import { z } from 'zod';

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

export const workerEnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Temporal Cloud or any TLS endpoint: an API key turns TLS on. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
  MLOPS_STORE: z.string().min(1).default('.mlops/store'),
  MLOPS_CONTROL_QUEUE: z.string().min(1).default('ml-control'),
  MLOPS_GPU_QUEUE: z.string().min(1).default('ml-gpu'),
  MLOPS_SERVING_URLS: commaList.default(['http://localhost:8080']),
  MLOPS_ADMIN_TOKEN: z.string().min(1).default('dev-admin-token'),
  /** A Prometheus server that scrapes every replica; canary analysis then queries it. */
  MLOPS_PROMETHEUS_URL: z.url().optional(),
  /** Concurrent trainings per GPU worker; one per GPU by default. */
  MLOPS_GPU_CONCURRENCY: z.coerce.number().int().positive().default(1),
});

export type WorkerEnv = z.output<typeof workerEnvSchema>;

/** Parses the environment, throwing one error that lists every bad variable. */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const parsed = workerEnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid environment:\n${problems.join('\n')}`);
  }
  // Stores are shared by processes started from different folders: pin local ones to absolute paths.
  const store = parsed.data.MLOPS_STORE;
  return { ...parsed.data, MLOPS_STORE: store.startsWith('gs://') ? store : path.resolve(store) };
}

/** Connection options for the Temporal SDK derived from the environment. */
export function temporalConnectionOptions(env: WorkerEnv) {
  return {
    address: env.TEMPORAL_ADDRESS,
    ...(env.TEMPORAL_API_KEY
      ? { apiKey: env.TEMPORAL_API_KEY, tls: true }
      : env.TEMPORAL_TLS
        ? { tls: true }
        : {}),
  };
}
