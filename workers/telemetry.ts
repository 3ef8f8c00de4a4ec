/**
 * The Temporal Runtime of a worker process: its logger (human lines or JSON lines) and its
 * Prometheus metrics endpoint. `Runtime.install` works once per process and before any connection,
 * so only worker mains call `installWorkerRuntime`; tests that create workers in-process never do.
 */
import {
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
  type LogEntry,
  type LogLevel,
  type Logger,
  type RuntimeOptions,
} from '@temporalio/worker';

export type LogFormat = 'text' | 'json';

export interface WorkerTelemetrySettings {
  /** Serve the SDK's and the worker's metrics on `http://<host>:<port>/metrics`; undefined: none. */
  metricsPort?: number;
  /** Interface the metrics endpoint binds to. */
  metricsHost?: string;
  logFormat: LogFormat;
  logLevel: LogLevel;
}

/** Metadata values JSON cannot carry as they are: errors (own properties are lost), bigints. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...(value.stack ? { stack: value.stack } : {}),
      ...(value.cause !== undefined ? { cause: value.cause } : {}),
    };
  }
  return value;
}

/**
 * One JSON object for one log entry: `timestamp` (ISO 8601), `level`, `message`, then the entry's
 * metadata flattened (the SDK's workflow and activity loggers put `workflowId`, `runId`,
 * `workflowType`, `activityId`, `activityType`, `taskQueue`, `attempt`… there).
 */
export function formatJsonLogLine(entry: LogEntry): string {
  const millis = Number(entry.timestampNanos / 1_000_000n);
  const line: Record<string, unknown> = {
    timestamp: new Date(millis).toISOString(),
    level: entry.level,
    message: entry.message,
  };
  for (const [key, value] of Object.entries(entry.meta ?? {})) {
    // The three fields above are the line's own; metadata never overwrites them.
    if (!(key in line)) line[key] = value;
  }
  try {
    return JSON.stringify(line, jsonSafe);
  } catch (err) {
    // A circular or otherwise unserialisable value: keep the line, say what was dropped.
    return JSON.stringify({
      timestamp: line.timestamp,
      level: line.level,
      message: line.message,
      metaError: `log metadata not serialisable: ${(err as Error).message}`,
    });
  }
}

/** The Runtime logger: the SDK's default human format, or one JSON object per line on stderr. */
export function createWorkerLogger(
  format: LogFormat,
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  if (format === 'text') return new DefaultLogger(level);
  return new DefaultLogger(level, (entry) => write(formatJsonLogLine(entry)));
}

/** Runtime options for a worker process with these settings. */
export function workerRuntimeOptions(settings: WorkerTelemetrySettings): RuntimeOptions {
  const logger = createWorkerLogger(settings.logFormat, settings.logLevel);
  return {
    logger,
    telemetryOptions: {
      // JSON logs must not be interleaved with the native core's own plain-text lines: forward them
      // through the same logger (at the SDK's default verbosity: core WARN, everything else ERROR).
      ...(settings.logFormat === 'json'
        ? { logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} } }
        : {}),
      ...(settings.metricsPort !== undefined
        ? {
            metrics: {
              prometheus: { bindAddress: `${settings.metricsHost ?? '0.0.0.0'}:${settings.metricsPort}` },
            },
          }
        : {}),
    },
  };
}

/** Installs the process-wide Runtime; call once, first thing in a worker main, before connecting. */
export function installWorkerRuntime(settings: WorkerTelemetrySettings): Runtime {
  return Runtime.install(workerRuntimeOptions(settings));
}
