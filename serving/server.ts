/** The prediction server factory: fastify app, deployment watcher, metrics and routes; only start() listens. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { DeploymentWatcher } from './deployment-watcher';
import { handleError, handleNotFound } from './errors';
import { FaultInjector } from './faults';
import { createPredictionMetrics } from './metrics';
import type { ServingContext } from './context';
import { adminRoutes } from './routes/admin';
import { registerHealthRoutes } from './routes/health';
import { registerModelStatusRoute } from './routes/model-status';
import { registerPredictRoute } from './routes/predict';
import { schemaErrorFormatter } from './validation';
import type { BundleLoader } from './version-loader';

/** Default request body limit: 256 instances with inline images of a few tens of kilobytes each. */
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

/** Options of createPredictionServer. */
export interface PredictionServerOptions {
  storeUri: string;
  models: string[];
  adminToken: string;
  host?: string;
  port?: number;
  pollIntervalMs?: number;
  logger?: FastifyServerOptions['logger'];
  bodyLimit?: number;
  /** Prefixes an instance's `image_uri` may point under; none by default, so only `image_b64` is accepted. */
  imageUriRoots?: string[];
  /** Reads a model bundle; defaults to loadModelBundle. */
  loadBundle?: BundleLoader;
}

/** A prediction server that is not listening until start() is called. */
export interface PredictionServer {
  app: FastifyInstance;
  /** Listens, then loads the current deployments; resolves with the base URL once both are done. */
  start(): Promise<{ url: string }>;
  /** Stops accepting requests, lets in-flight ones finish, stops polling and frees the models. */
  stop(): Promise<void>;
}

// A caller's request id is kept for tracing across services when it is short and plain; otherwise a fresh one.
const REQUEST_ID = /^[\w.:-]{1,128}$/;

function requestIdOf(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Builds a prediction server for the given models, reading their deployments from the store. */
export function createPredictionServer(options: PredictionServerOptions): PredictionServer {
  if (options.adminToken.length === 0) throw new Error('adminToken must not be empty');
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    genReqId: requestIdOf,
    // Without this, ajv would turn "hour": "5" into 5; a wrong type must be a 400, as the API promises.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaErrorFormatter,
  });
  const watcher = new DeploymentWatcher({
    storeUri: options.storeUri,
    models: options.models,
    pollIntervalMs: options.pollIntervalMs,
    log: app.log,
    loadBundle: options.loadBundle,
  });
  const context: ServingContext = {
    watcher,
    metrics: createPredictionMetrics(),
    faults: new FaultInjector(),
    adminToken: options.adminToken,
    imageUriRoots: options.imageUriRoots ?? [],
  };

  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  // Answers finishing during close drop their keep-alive connection; otherwise the connection would hold
  // close() open until the client's keep-alive ends (fastify only closes connections idle when close starts).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  // onClose runs after in-flight requests have drained, so no request loses its model.
  app.addHook('onClose', async () => {
    await watcher.stop();
  });

  registerHealthRoutes(app, context, options.models);
  registerModelStatusRoute(app, context);
  registerPredictRoute(app, context);
  void app.register(adminRoutes(context));

  let stopping: Promise<void> | undefined;
  return {
    app,
    async start() {
      // Listen first so /healthz answers while models load; /readyz says when they are served.
      const url = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
      await watcher.start();
      return { url };
    },
    stop() {
      stopping ??= app.close();
      return stopping;
    },
  };
}
