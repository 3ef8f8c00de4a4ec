/**
 * OpenTelemetry tracing through `@temporalio/interceptors-opentelemetry`, on only when the
 * environment asks for it: builds the tracer provider and span exporter, and hands out the worker's
 * and the client's interceptors. A client's `StartWorkflow` span is the parent of the workflow's
 * `RunWorkflow`, whose `StartActivity` spans are the parents of the activities' `RunActivity`.
 */
import { diag, DiagLogLevel, type DiagLogger, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetectorSync, Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { ClientInterceptors } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';
import type { WorkerEnv } from './env';

/** The bundle module that exports the workflow interceptors; only bundled when tracing is on. */
export const TRACING_WORKFLOW_MODULE = require.resolve('../workflows/tracing-interceptors');

/** `service.name` of each process when OTEL_SERVICE_NAME is unset. */
export const DEFAULT_SERVICE_NAMES = {
  controlWorker: 'mlops-control-worker',
  gpuWorker: 'mlops-gpu-worker',
  cli: 'mlops-cli',
} as const;

/** Where spans go: an OTLP/HTTP (JSON) collector, or stdout. */
export type TracingSettings =
  { exporter: 'otlp'; url: string; serviceName: string } | { exporter: 'console'; serviceName: string };

/** OTLP/HTTP's own default, as the OpenTelemetry specification sets it. */
const DEFAULT_OTLP_TRACES_URL = 'http://localhost:4318/v1/traces';

/**
 * Tracing settings from the validated environment, or undefined when tracing is off: MLOPS_TRACING
 * wins; unset, an OTLP endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or
 * OTEL_EXPORTER_OTLP_ENDPOINT plus `/v1/traces`) turns OTLP on.
 */
export function tracingSettingsFromEnv(
  env: WorkerEnv,
  defaultServiceName: string,
): TracingSettings | undefined {
  const serviceName = env.OTEL_SERVICE_NAME ?? defaultServiceName;
  const url =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT
      ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`
      : undefined);
  const mode = env.MLOPS_TRACING ?? (url ? 'otlp' : 'off');
  if (mode === 'off') return undefined;
  if (mode === 'console') return { exporter: 'console', serviceName };
  return { exporter: 'otlp', url: url ?? DEFAULT_OTLP_TRACES_URL, serviceName };
}

/** A started tracer provider and the interceptors that feed it. */
export interface Tracing {
  readonly settings: TracingSettings;
  readonly tracer: Tracer;
  /** One line for logs: where spans go and under which service name. */
  describe(): string;
  /** Interceptors and sinks for a worker; `workflows: false` for a worker that runs activities only. */
  workerOptions(options?: { workflows?: boolean }): Pick<WorkerOptions, 'interceptors' | 'sinks'>;
  /** Interceptors for a `Client`: its workflow starts, signals and queries become spans. */
  clientInterceptors(): ClientInterceptors;
  /** Sends the spans still buffered; a failed export goes to `warn`, it never rejects. */
  forceFlush(): Promise<void>;
  /** Flushes and stops the provider; call once the worker or client has stopped. Never rejects either. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** Where OpenTelemetry's own warnings and errors go (a collector that refuses or cannot be reached); unset: nowhere. */
  warn?: (message: string) => void;
}

/** A diag argument as one readable piece: errors arrive as JSON with a stack, of which the message is enough. */
function diagText(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value) ?? String(value);
  try {
    const parsed = JSON.parse(value) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : value;
  } catch {
    return value;
  }
}

/** OpenTelemetry reports failed exports through its diag logger, which says nothing unless one is set. */
function forwardingDiagLogger(warn: (message: string) => void): DiagLogger {
  const forward = (message: string, ...args: unknown[]) =>
    warn(`OpenTelemetry: ${[message, ...args].map(diagText).join(' ')}`);
  const ignore = () => undefined;
  return { error: forward, warn: forward, info: ignore, debug: ignore, verbose: ignore };
}

function reportTo(warn: ((message: string) => void) | undefined, what: string) {
  return (err: unknown) => warn?.(`${what} to the trace collector: ${(err as Error).message}`);
}

function spanProcessorFor(settings: TracingSettings): SpanProcessor {
  if (settings.exporter === 'console') return new SimpleSpanProcessor(new ConsoleSpanExporter());
  return new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.url }));
}

let globalsRegistered = false;

/**
 * Starts a tracer provider for these settings and registers it process-wide (W3C trace context
 * propagation and an AsyncLocalStorage context, which the interceptors need to carry a span into
 * Temporal headers). The first provider registered in a process stays the global one.
 */
export function startTracing(settings: TracingSettings, options: StartTracingOptions = {}): Tracing {
  const resource = new Resource({
    ...Resource.default().attributes,
    // OTEL_RESOURCE_ATTRIBUTES (deployment.environment, k8s.pod.name, …), as every OpenTelemetry SDK reads it.
    ...envDetectorSync.detect().attributes,
    [ATTR_SERVICE_NAME]: settings.serviceName,
  });
  const processor = spanProcessorFor(settings);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The API's globals are process-wide and first come, first served; the tracer is passed explicitly anyway.
  if (!globalsRegistered) {
    provider.register();
    globalsRegistered = true;
  }
  if (options.warn) {
    diag.setLogger(forwardingDiagLogger(options.warn), {
      logLevel: DiagLogLevel.WARN,
      suppressOverrideMessage: true,
    });
  }
  const tracer = provider.getTracer('temporal-mlops');

  return {
    settings,
    tracer,
    describe: () =>
      settings.exporter === 'otlp'
        ? `tracing to ${settings.url} (OTLP/HTTP) as ${settings.serviceName}`
        : `tracing to stdout as ${settings.serviceName}`,
    workerOptions: ({ workflows = true } = {}) => ({
      interceptors: {
        activity: [
          (ctx) => ({
            inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
            outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
          }),
        ],
        // Ignored with a prebuilt workflowBundle: that bundle must have been built with this module.
        ...(workflows ? { workflowModules: [TRACING_WORKFLOW_MODULE] } : {}),
      },
      // Workflow spans are made inside the sandbox and leave it through this sink (not during replay).
      ...(workflows ? { sinks: { exporter: makeWorkflowExporter(processor, resource) } } : {}),
    }),
    clientInterceptors: () => ({ workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer })] }),
    // A collector that is down must not fail a CLI command or a worker's clean exit.
    forceFlush: () => provider.forceFlush().catch(reportTo(options.warn, 'could not send spans')),
    shutdown: () => provider.shutdown().catch(reportTo(options.warn, 'could not send the last spans')),
  };
}

/** Tracing as the environment configures it, or undefined when it is off. */
export function startTracingFromEnv(
  env: WorkerEnv,
  defaultServiceName: string,
  options: StartTracingOptions = {},
): Tracing | undefined {
  const settings = tracingSettingsFromEnv(env, defaultServiceName);
  return settings ? startTracing(settings, options) : undefined;
}
