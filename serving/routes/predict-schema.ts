/**
 * JSON schema and types of the predict request's envelope; fastify validates every body against it
 * before the handler runs. The instances themselves are read by the served version's feature spec
 * (serving/instance-reader.ts), since a canary and stable may have different columns.
 *
 * Both of TensorFlow Serving's request forms: the row form, `instances` (one object per example),
 * and the columnar form, `inputs` (one array per column, all of one length).
 */

/** Most instances one request may carry. */
export const MAX_INSTANCES = 256;

/** One instance: a value per column of the model's feature spec, by the spec's column names. */
export type PredictInstance = Record<string, unknown>;

/** The body of `POST /v1/models/{model}[/versions/{v}|/labels/{l}]:predict`. */
export interface PredictBody {
  instances?: PredictInstance[];
  inputs?: Record<string, unknown[]>;
  signature_name?: string;
  routing_key?: string;
}

const MODEL_PARAMS = {
  type: 'object',
  required: ['model'],
  properties: { model: { type: 'string' }, version: { type: 'string' }, label: { type: 'string' } },
} as const;

/** The routes' fastify schema; which of the two forms a body uses is checked by the handler. */
export const predictSchema = {
  params: MODEL_PARAMS,
  body: {
    type: 'object',
    properties: {
      instances: { type: 'array', minItems: 1, maxItems: MAX_INSTANCES, items: { type: 'object' } },
      inputs: {
        type: 'object',
        minProperties: 1,
        additionalProperties: { type: 'array', minItems: 1, maxItems: MAX_INSTANCES },
      },
      signature_name: { type: 'string' },
      routing_key: { type: 'string', minLength: 1, maxLength: 256 },
    },
  },
} as const;
