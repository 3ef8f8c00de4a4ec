/**
 * Admin routes behind a bearer token: `POST /admin/reload`, and `GET|PUT|DELETE /admin/faults` when
 * the server was started with fault injection.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { ServingContext } from '../context';
import { HttpError } from '../errors';
import type { Fault } from '../faults';
import { runEverywhere } from '../admin-actions';
import type { ModelStatus } from '../deployment-watcher';

interface FaultBody {
  model: string;
  version: string;
  errorRate?: number;
  extraLatencyMs?: number;
}

/** Every admin route needs the bearer token: the OpenAPI document says so. */
const ADMIN_SECURITY = { security: [{ adminToken: [] }] };

const faultSchema = {
  ...ADMIN_SECURITY,
  body: {
    type: 'object',
    required: ['model', 'version'],
    // Closed, so a misspelt `error_rate` is refused instead of silently injecting nothing.
    additionalProperties: false,
    properties: {
      model: { type: 'string', minLength: 1 },
      version: { type: 'string', minLength: 1 },
      errorRate: { type: 'number', minimum: 0, maximum: 1 },
      extraLatencyMs: { type: 'integer', minimum: 0, maximum: 60_000 },
    },
  },
} as const;

/** The admin routes as a plugin: registered in its own scope, so the token check covers them and nothing else. */
export function adminRoutes(context: ServingContext): FastifyPluginCallback {
  const expected = digest(context.adminToken);
  return (admin, _options, done) => {
    // onRequest runs before the body is read: an unauthenticated caller cannot make the server parse a payload.
    admin.addHook('onRequest', (request, _reply, next) => next(checkToken(request, expected)));

    admin.post('/admin/reload', { schema: ADMIN_SECURITY }, async (_request, reply) => {
      // Every process of this port reloads before the answer: the caller then knows they all serve it.
      const everywhere = (await runEverywhere(context, { kind: 'reload' })) as ModelStatus[][];
      const statuses = everywhere.flat();
      // Per model the oldest revision any process serves: what the whole port is sure to serve.
      const revisions: Record<string, number | null> = {};
      for (const { model, revision } of statuses) {
        const seen = revisions[model];
        revisions[model] =
          seen === undefined
            ? (revision ?? null)
            : seen === null || revision === undefined
              ? null
              : Math.min(seen, revision);
      }
      const failed = statuses.filter((status) => status.lastError !== undefined);
      if (failed.length === 0) return { revisions };
      // The caller (a rollout step) must know that the state it wrote is not what is served.
      const message = failed.map((status) => `${status.model}: ${status.lastError ?? ''}`).join('; ');
      return reply.code(503).send({ error: message, code: 'reload_failed', revisions });
    });

    const faults = context.faults;
    // Absent unless enabled: a production server has no way to make itself fail.
    if (faults) {
      admin.get('/admin/faults', { schema: ADMIN_SECURITY }, () => ({ faults: faults.list() }));

      admin.put<{ Body: FaultBody }>('/admin/faults', { schema: faultSchema }, async (request) => {
        const { model, version, errorRate, extraLatencyMs } = request.body;
        if (!context.watcher.isConfigured(model)) {
          throw new HttpError(404, 'model_not_found', `no model named ${model} is served here`);
        }
        if (errorRate === undefined && extraLatencyMs === undefined) {
          throw new HttpError(400, 'invalid_request', 'set errorRate (0..1), extraLatencyMs, or both');
        }
        const fault: Fault = {
          model,
          version,
          errorRate: errorRate ?? 0,
          extraLatencyMs: extraLatencyMs ?? 0,
        };
        await runEverywhere(context, { kind: 'set-fault', fault });
        request.log.warn({ fault }, 'fault injected');
        return { faults: faults.list() };
      });

      admin.delete('/admin/faults', { schema: ADMIN_SECURITY }, async () => {
        await runEverywhere(context, { kind: 'clear-faults' });
        return { faults: [] };
      });
    }
    done();
  };
}

function checkToken(request: FastifyRequest, expected: Buffer): HttpError | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match?.[1]) {
    return new HttpError(401, 'unauthorized', 'admin routes need the header Authorization: Bearer <token>');
  }
  // Compare digests: equal lengths for timingSafeEqual, and no timing hint about the token.
  if (!timingSafeEqual(digest(match[1]), expected)) {
    return new HttpError(403, 'forbidden', 'the admin token is not valid');
  }
  return undefined;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
