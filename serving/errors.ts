/**
 * The prediction server's one error type and the handler that turns any error into
 * `{ "error": message, "code": code }`: the `error` string is what TensorFlow Serving's and the
 * Open Inference Protocol's clients read, `code` is for programs that branch on the kind.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** An error meant for the client: an HTTP status, a machine-readable code and a message a person can act on. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: string;
  code: string;
}

const errorBody = (code: string, message: string): ErrorBody => ({ error: message, code });

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: unknown;
}

// Fastify's own client errors, renamed to this API's codes; any other 4xx keeps its message as `bad_request`.
const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_VALIDATION: { status: 400, code: 'invalid_request' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_content_length' },
};

/** Classifies any thrown value as the status, code and message the client will see. */
export function describeError(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof HttpError) {
    return { status: error.statusCode, body: errorBody(error.code, error.message) };
  }
  const candidate = (typeof error === 'object' && error !== null ? error : {}) as FastifyLikeError;
  const message = typeof candidate.message === 'string' ? candidate.message : 'request failed';
  if (candidate.validation !== undefined) {
    return { status: 400, body: errorBody('invalid_request', message) };
  }
  const known = typeof candidate.code === 'string' ? FASTIFY_CODES[candidate.code] : undefined;
  if (known) return { status: known.status, body: errorBody(known.code, message) };
  const status = typeof candidate.statusCode === 'number' ? candidate.statusCode : 500;
  if (status >= 400 && status < 500) return { status, body: errorBody('bad_request', message) };
  // Never echo an unexpected error's message: it may carry paths or internals.
  return { status: 500, body: errorBody('internal', 'internal server error') };
}

/** Fastify error handler: client errors answered as they are, anything else logged and answered 500. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = describeError(error);
  if (status >= 500 && !(error instanceof HttpError)) request.log.error({ err: error }, 'request failed');
  else if (status >= 500) request.log.warn({ code: body.code, reason: body.error }, 'request failed');
  else request.log.info({ code: body.code, reason: body.error }, 'request rejected');
  if (status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply.code(status).send(body);
}

/** Fastify not-found handler: unknown routes answer in the same error shape. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .send(errorBody('route_not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`));
}

/**
 * Fastify `frameworkErrors` handler, for failures before routing (setErrorHandler never sees them):
 * a path that cannot be percent-decoded is a 400 `invalid_url`; anything else goes through handleError.
 */
export function handleFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  // The onRequest hook that sets this header does not run on this path.
  void reply.header('x-request-id', request.id);
  if (error.code === 'FST_ERR_BAD_URL') {
    request.log.info({ code: 'invalid_url', reason: error.message }, 'request rejected');
    void reply.code(400).send(errorBody('invalid_url', error.message));
    return;
  }
  void handleError(error, request, reply);
}
