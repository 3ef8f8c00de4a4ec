/**
 * JSON schema and types of the predict request's envelope; fastify validates every body against it
 * before the handler runs. The instances themselves are read by the served version's feature spec
 * (serving/instance-reader.ts), since a canary and stable may have different columns.
 */

/** Most instances one request may carry. */
export const MAX_INSTANCES = 256;

/** One instance: a value per column of the model's feature spec, by the spec's column names. */
export type PredictInstance = Record<string, unknown>;

/** The body of `POST /v1/models/{model}:predict`. */
export interface PredictBody {
  instances: PredictInstance[];
  routing_key?: string;
}

/** The route's fastify schema. */
export const predictSchema = {
  params: {
    type: 'object',
    required: ['model'],
    properties: { model: { type: 'string' } },
  },
  body: {
    type: 'object',
    required: ['instances'],
    properties: {
      instances: { type: 'array', minItems: 1, maxItems: MAX_INSTANCES, items: { type: 'object' } },
      routing_key: { type: 'string', minLength: 1, maxLength: 256 },
    },
  },
} as const;
