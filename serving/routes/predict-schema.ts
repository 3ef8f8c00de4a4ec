/** JSON schema and types of the predict request; fastify validates every body against it before the handler runs. */
import type { AdFeatures } from '../../lib/dataset/schema';
import type { ImageFields } from '../image-input';

/** Most instances one request may carry. */
export const MAX_INSTANCES = 256;

/** One instance: the ad's features plus its image. */
export type PredictInstance = AdFeatures & ImageFields;

/** The body of `POST /v1/models/{model}:predict`. */
export interface PredictBody {
  instances: PredictInstance[];
  routing_key?: string;
}

const text = { type: 'string', minLength: 1, maxLength: 200 } as const;

// Bounds mirror lib/dataset/schema.ts so serving accepts what training did. Extra fields are ignored.
const instanceSchema = {
  type: 'object',
  required: ['advertiser', 'category', 'placement', 'device', 'hour', 'headline_length'],
  properties: {
    advertiser: text,
    category: text,
    placement: text,
    device: text,
    hour: { type: 'integer', minimum: 0, maximum: 23 },
    headline_length: { type: 'integer', minimum: 0, maximum: 1000 },
    image_b64: { type: 'string' },
    image_uri: { type: 'string', minLength: 1, maxLength: 2048 },
  },
} as const;

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
      instances: { type: 'array', minItems: 1, maxItems: MAX_INSTANCES, items: instanceSchema },
      routing_key: { type: 'string', minLength: 1, maxLength: 256 },
    },
  },
} as const;
