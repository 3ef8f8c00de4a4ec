/** Probes and metrics: `GET /healthz`, `GET /readyz`, `GET /metrics`. */
import type { FastifyInstance } from 'fastify';
import type { ServingContext } from '../context';
import { HttpError } from '../errors';

/** Registers the probe and metrics routes. */
export function registerHealthRoutes(app: FastifyInstance, context: ServingContext): void {
  // Liveness: answering at all is the signal; it must not depend on the store or the models.
  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/readyz', () => {
    const models = context.watcher.models();
    if (!context.watcher.isReady()) {
      const waiting = models.filter((model) => {
        const status = context.watcher.status(model);
        return (
          !status?.checked || (status.desiredRevision !== undefined && !context.watcher.servedModel(model))
        );
      });
      throw new HttpError(503, 'not_ready', `not serving yet: ${waiting.join(', ')}`);
    }
    const revisions = Object.fromEntries(
      models.map((model) => [model, context.watcher.servedModel(model)?.revision ?? null]),
    );
    return { status: 'ready', revisions };
  });

  app.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', context.metrics.registry.contentType);
    // Every process of this port summed, so a scrape of any one sees all requests.
    return context.cluster ? context.cluster.metrics() : context.metrics.registry.metrics();
  });
}
