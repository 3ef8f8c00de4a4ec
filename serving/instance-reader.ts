/**
 * Reads one prediction instance by the served version's own feature spec: every model column must
 * be present (null means missing), of its kind's JSON type, and within the spec's bounds, so a
 * canary with a new column and a stable without it validate side by side. Mistakes are 400s that
 * name the column as the client wrote it.
 */
import type { FeatureSpec } from '../contracts/feature-spec';
import type { FeatureValue } from '../lib/dataset/example';
import { isMissing } from '../lib/model/preprocessing';
import { HttpError } from './errors';
import type { ImageFields } from './image-input';

/** One instance as the model reads it, before its image (if any) is decoded. */
export interface ReadInstance {
  /** A value per model column: strings trimmed, numbers as sent, null when missing. */
  features: Record<string, FeatureValue>;
  /** Where the image comes from, for a spec with an image column. */
  image?: ImageFields;
}

export type InstanceReader = (raw: unknown, index: number) => ReadInstance;

/** Longest categorical or text value accepted; far beyond any real category, short of abuse. */
const MAX_VALUE_LENGTH = 100_000;

type ModelFeature = Exclude<FeatureSpec['features'][number], { kind: 'ignored' }>;

/** The reader of instances for one spec; build it once per loaded version. */
export function instanceReaderFor(spec: FeatureSpec): InstanceReader {
  const features = spec.features.filter((feature): feature is ModelFeature => feature.kind !== 'ignored');
  const missingValues = spec.csv.missingValues;
  return (raw, index) => {
    const where = `body.instances[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw invalid(`${where} must be an object of column values`);
    }
    const instance = raw as Record<string, unknown>;
    const read: ReadInstance = { features: {} };
    for (const feature of features) {
      if (feature.kind === 'image') {
        read.image = imageFieldsOf(instance, feature.column, where);
        continue;
      }
      if (!(feature.column in instance)) {
        throw invalid(
          `${where} is missing "${feature.column}", a ${feature.kind} column of the model's feature spec ` +
            '(send null for a missing value)',
        );
      }
      const value = instance[feature.column];
      const field = `${where}.${feature.column}`;
      if (isMissing(value, missingValues)) {
        if (feature.required) throw invalid(`${field} is blank but the feature spec says it is required`);
        if (feature.kind === 'numeric' && !feature.missingIndicator) {
          throw invalid(`${field} is missing but the feature spec gives it no missing-value indicator`);
        }
        read.features[feature.column] = null;
      } else if (feature.kind === 'numeric') {
        read.features[feature.column] = numericValue(value, feature, field);
      } else {
        read.features[feature.column] = stringValue(value, feature.kind, field);
      }
    }
    return read;
  };
}

function numericValue(value: unknown, feature: { min?: number; max?: number }, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalid(`${field} must be a number (a numeric column of the feature spec)`);
  }
  if (feature.min !== undefined && value < feature.min) {
    throw invalid(`${field} must be >= ${feature.min}, the feature spec's min`);
  }
  if (feature.max !== undefined && value > feature.max) {
    throw invalid(`${field} must be <= ${feature.max}, the feature spec's max`);
  }
  return value;
}

/**
 * Strings as sent (trimmed, as training trims CSV cells); finite numbers too, as their shortest
 * digits (1.5 is "1.5"), which is how a CSV cell holding that number reads. Booleans are refused:
 * a CSV could hold true, True or 1.
 */
function stringValue(value: unknown, kind: 'categorical' | 'text', field: string): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') {
    throw invalid(`${field} must be string (a ${kind} column of the feature spec)`);
  }
  if (value.length > MAX_VALUE_LENGTH) {
    throw invalid(`${field} must NOT have more than ${MAX_VALUE_LENGTH} characters`);
  }
  return value.trim();
}

/** `{"<column>": {"b64": …}}` or `{"<column>": "<uri>"}`, or the older `image_b64` / `image_uri` fields. */
function imageFieldsOf(instance: Record<string, unknown>, column: string, where: string): ImageFields {
  const value = instance[column];
  const legacy: ImageFields = {};
  if (typeof instance.image_b64 === 'string') legacy.image_b64 = instance.image_b64;
  if (typeof instance.image_uri === 'string') legacy.image_uri = instance.image_uri;
  if (value === undefined) {
    if (legacy.image_b64 !== undefined || legacy.image_uri !== undefined) return legacy;
    throw invalid(
      `${where} is missing "${column}", the image column of the model's feature spec: ` +
        'send {"b64": "<base64 of the file>"} or an image URI',
    );
  }
  if (typeof value === 'string') return { image_uri: value, sentAs: column };
  if (typeof value === 'object' && value !== null && typeof (value as { b64?: unknown }).b64 === 'string') {
    return { image_b64: (value as { b64: string }).b64, sentAs: `${column}.b64` };
  }
  throw invalid(`${where}.${column} must be {"b64": "<base64 of a PNG, JPEG or WebP>"} or an image URI`);
}

function invalid(message: string): HttpError {
  return new HttpError(400, 'invalid_request', message);
}
