/** The prediction server factory: fastify app, deployment watcher, predictor, metrics, logs and routes; only start() listens. */
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createPredictor, type BatchingOptions } from './batcher';
import { DeploymentWatcher } from './deployment-watcher';
import { handleError, handleFrameworkError, handleNotFound } from './errors';
import { FaultInjector } from './faults';
import { createPredictionMetrics } from './metrics';
import { PredictionIdCodec } from './prediction-id';
import { ServingLogs } from './prediction-log';
import { RecentIds } from './recent-ids';
import { ShadowMirror } from './shadow-mirror';
import { API_VERSION, type ServingContext } from './context';
import { registerApiDocument } from './api-document';
import { runLocally } from './admin-actions';
import { joinCluster } from './cluster';
import { adminRoutes } from './routes/admin';
import { registerFeedbackRoute } from './routes/feedback';
import { registerHealthRoutes } from './routes/health';
import { registerModelMetadataRoutes } from './routes/model-metadata';
import { registerModelStatusRoute } from './routes/model-status';
import { registerPredictRoute } from './routes/predict';
import { registerOpenInferenceRoutes } from './routes/open-inference';
import { registerReportRoute } from './routes/report';
import { schemaErrorFormatter } from './validation';
import type { BundleLoader } from './version-loader';

/** Default request body limit: 256 instances with inline images of a few tens of kilobytes each. */
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
/** Feedback for predictions older than this is reported as unknown. */
export const DEFAULT_FEEDBACK_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** How many recently counted feedback ids a replica remembers to refuse duplicates (about 10 MB). */
export const DEFAULT_FEEDBACK_DEDUP_CAPACITY = 100_000;

/** Options of createPredictionServer. */
export interface PredictionServerOptions {
  storeUri: string;
  /** Serve only these models; absent: every model deployed in the store, found as its first version deploys. */
  models?: string[];
  adminToken: string;
  host?: string;
  port?: number;
  pollIntervalMs?: number;
  logger?: FastifyServerOptions['logger'];
  bodyLimit?: number;
  /** Prefixes an instance's `image_uri` may point under; none by default, so only `image_b64` is accepted. */
  imageUriRoots?: string[];
  /** This process is one of several on one port (a node:cluster worker): metrics and admin actions span them all. */
  clusterWorker?: boolean;
  /** Serve `/admin/faults` (injected errors and latency, for drills and tests); off by default. */
  faultInjection?: boolean;
  /** Reads a model bundle; defaults to loadModelBundle. */
  loadBundle?: BundleLoader;
  /** Micro-batching of concurrent predict requests per version; off when false, absent or maxBatchSize ≤ 1. */
  batching?: BatchingOptions | false;
  /** Secret of the prediction ids' HMAC; every replica behind one load balancer must share it. Defaults to adminToken. */
  feedbackKey?: string;
  /** Feedback for older predictions is reported as unknown; default DEFAULT_FEEDBACK_MAX_AGE_MS (7 days). */
  feedbackMaxAgeMs?: number;
  /** Write prediction and feedback logs under `<store>/logs/`; default true. */
  logPredictions?: boolean;
  /** Names this process in log part files; defaults to the host name plus a random suffix, unique per start. */
  replicaId?: string;
  /** How often buffered log records are written to the store; default 1000. */
  logFlushIntervalMs?: number;
  /** Instances of mirrored copies a shadow version may have waiting (default SHADOW_QUEUE_CAPACITY); beyond it copies are dropped. */
  shadowQueueCapacity?: number;
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
const REPLICA_ID = /^[\w.-]{1,64}$/;

function requestIdOf(request: IncomingMessage): string {
  const header = request.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Builds a prediction server for the given models, reading their deployments from the store. */
export function createPredictionServer(options: PredictionServerOptions): PredictionServer {
  if (options.adminToken.length === 0) throw new Error('adminToken must not be empty');
  if (options.replicaId !== undefined && !REPLICA_ID.test(options.replicaId)) {
    throw new Error(
      'replicaId may contain only letters, digits, _ . and - (at most 64), as it names log files',
    );
  }
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    genReqId: requestIdOf,
    // Without this, ajv would turn "hour": "5" into 5; a wrong type must be a 400, as the API promises.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    schemaErrorFormatter,
    // A path fastify cannot percent-decode never reaches the router or setErrorHandler; answer it in the API's shape.
    frameworkErrors: handleFrameworkError,
  });
  const watcher = new DeploymentWatcher({
    storeUri: options.storeUri,
    ...(options.models ? { models: options.models } : {}),
    pollIntervalMs: options.pollIntervalMs,
    log: app.log,
    loadBundle: options.loadBundle,
  });
  const metrics = createPredictionMetrics();
  const logs =
    options.logPredictions === false
      ? undefined
      : new ServingLogs({
          storeUri: options.storeUri,
          replicaId: options.replicaId ?? defaultReplicaId(),
          metrics,
          log: app.log,
          flushIntervalMs: options.logFlushIntervalMs,
        });
  const predictor = createPredictor(options.batching, metrics, app.log);
  const feedback = {
    ids: new PredictionIdCodec(options.feedbackKey ?? options.adminToken),
    maxAgeMs: options.feedbackMaxAgeMs ?? DEFAULT_FEEDBACK_MAX_AGE_MS,
    seen: new RecentIds(DEFAULT_FEEDBACK_DEDUP_CAPACITY),
  };
  const imageUriRoots = options.imageUriRoots ?? [];
  const context: ServingContext = {
    storeUri: options.storeUri,
    watcher,
    predictor,
    metrics,
    ...(options.faultInjection ? { faults: new FaultInjector() } : {}),
    feedback,
    shadow: new ShadowMirror(
      { predictor, metrics, feedback, logs, imageUriRoots },
      options.shadowQueueCapacity === undefined ? {} : { capacity: options.shadowQueueCapacity },
    ),
    logs,
    adminToken: options.adminToken,
    imageUriRoots,
  };

  if (options.clusterWorker) {
    context.cluster = joinCluster(metrics.registry, (action) => runLocally(context, action));
  }

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
    // Queued batches run now rather than after their wait, so draining requests finish sooner.
    context.predictor.flush();
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  // onClose runs after in-flight requests have drained, so no request loses its model and every record is logged.
  app.addHook('onClose', async () => {
    // Copies already queued are scored and logged before their versions are freed.
    await context.shadow.drained();
    await watcher.stop();
    await logs?.stop();
  });

  registerApiDocument(app, API_VERSION);
  // In a plugin, so the routes are added once the document's generator is listening for them.
  void app.register((routes, _options, done) => {
    registerHealthRoutes(routes, context);
    registerModelStatusRoute(routes, context);
    registerModelMetadataRoutes(routes, context);
    registerPredictRoute(routes, context);
    registerOpenInferenceRoutes(routes, context);
    registerFeedbackRoute(routes, context);
    registerReportRoute(routes, { storeUri: options.storeUri });
    void routes.register(adminRoutes(context));
    done();
  });

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

function defaultReplicaId(): string {
  // The random part keeps a restarted process from writing part files under the names of its predecessor.
  const host =
    os
      .hostname()
      .replace(/[^\w.-]/g, '_')
      .slice(0, 40) || 'replica';
  return `${host}-${randomBytes(3).toString('hex')}`;
}
