/**
 * A model's data schema, in the manner of TFX's SchemaGen and ExampleValidator: inferred from the
 * statistics of the first dataset a model is trained on, then every later dataset is checked
 * against it. The schema is plain JSON, so a person may edit it (widen a range, add a value).
 */
import type { FeatureSpec } from '../../contracts/feature-spec';
import { percent, severityOf, type Anomaly } from '../../lib/dataset/anomalies';
import { countOutside } from '../../lib/dataset/numeric-histogram';
import type { DatasetStatistics, FeatureStatistics, FeatureType } from '../../lib/dataset/statistics';

/** Format tag of schema.json. */
export const SCHEMA_FORMAT = 'mlops-schema/1';

export interface FeatureSchema {
  type: FeatureType;
  /** Every row must have a value (true when the first dataset had no missing value). */
  required: boolean;
  identifier?: true;
  /** Allowed values of a categorical feature; absent past maxDomainSize distinct values (then unchecked). */
  domain?: string[];
  /** Range of a numeric feature in the first dataset, widened by outOfRange.tolerance when checking. */
  range?: { min: number; max: number };
}

export interface DatasetSchema {
  format: typeof SCHEMA_FORMAT;
  model: string;
  /** Where the schema came from, so a retry of the same run knows it created it. */
  inferredFrom: { dataUri: string; fingerprint: string; workflowId: string; runId: string; at: string };
  label: { name: string; values: string[] };
  features: Record<string, FeatureSchema>;
}

export interface InferSchemaOptions {
  model: string;
  inferredFrom: DatasetSchema['inferredFrom'];
  /** Categorical features with more distinct values get no domain (TFDV's max_string_domain_size). */
  maxDomainSize: number;
}

/** The schema the statistics of a dataset imply. */
export function inferSchema(statistics: DatasetStatistics, options: InferSchemaOptions): DatasetSchema {
  const features: Record<string, FeatureSchema> = {};
  for (const [name, feature] of Object.entries(statistics.features)) {
    const schema: FeatureSchema = { type: feature.type, required: feature.missing === 0 };
    if (feature.identifier) schema.identifier = true;
    const vocabulary = feature.categorical;
    if (
      vocabulary &&
      !vocabulary.distinctIsLowerBound &&
      vocabulary.otherCount === 0 &&
      vocabulary.distinct <= options.maxDomainSize
    ) {
      schema.domain = vocabulary.top.map(([value]) => value).sort();
    }
    // The label's values are checked against label.values instead.
    if (feature.numeric && name !== statistics.label) {
      schema.range = { min: feature.numeric.min, max: feature.numeric.max };
    }
    features[name] = schema;
  }
  return {
    format: SCHEMA_FORMAT,
    model: options.model,
    inferredFrom: options.inferredFrom,
    label: { name: statistics.label, values: Object.keys(statistics.labelCounts).sort() },
    features,
  };
}

export interface SchemaCheckOptions {
  /** Fraction of a feature's values outside its domain (data.validation.outOfVocabulary). */
  outOfVocabulary: { warning: number; critical: number };
  /** Range widening and fraction of values outside it (data.validation.outOfRange). */
  outOfRange: { tolerance: number; warning: number; critical: number };
  /** Named in messages, so a person knows which file to edit. */
  schemaUri: string;
  /**
   * The feature spec the data was read by. A column it no longer stores, or stores as another
   * type, is the spec's deliberate change (a user edited it), so a warning rather than a failure.
   */
  spec?: FeatureSpec;
}

/** The columns a spec stores in shards, by name: the label, the id and every feature the model reads but the image. */
function storedColumns(spec: FeatureSpec): Map<string, string> {
  const stored = new Map<string, string>([[spec.label.column, 'label']]);
  if (spec.id !== undefined) stored.set(spec.id, 'id');
  for (const feature of spec.features) {
    if (feature.kind !== 'ignored' && feature.kind !== 'image') stored.set(feature.column, feature.kind);
  }
  return stored;
}

/** The range checked: the schema's widened by `tolerance` × its span (× |value| for a single value) each side. */
export function allowedRange(range: { min: number; max: number }, tolerance: number): [number, number] {
  const span = range.max - range.min || Math.max(Math.abs(range.min), 1);
  return [range.min - tolerance * span, range.max + tolerance * span];
}

const quote = (value: string) => JSON.stringify(value);

function checkVocabulary(
  name: string,
  feature: FeatureStatistics,
  domain: readonly string[],
  options: SchemaCheckOptions,
): Anomaly[] {
  if (!feature.categorical || feature.count === 0) return [];
  const allowed = new Set(domain);
  const unseen = feature.categorical.top.filter(([value]) => !allowed.has(value));
  // Values past the tracking limit were never compared: counted as unseen, the safe side.
  const outside = unseen.reduce((sum, [, count]) => sum + count, 0) + feature.categorical.otherCount;
  const fraction = outside / feature.count;
  const severity = severityOf(fraction, options.outOfVocabulary);
  if (!severity) return [];
  const examples = unseen
    .slice(0, 5)
    .map(([value, count]) => `${quote(value)} × ${count}`)
    .join(', ');
  const threshold = options.outOfVocabulary[severity];
  return [
    {
      severity,
      kind: 'out_of_vocabulary',
      feature: name,
      value: fraction,
      threshold,
      message:
        `${name}: ${percent(fraction)} of values (${outside} of ${feature.count}) are not in the schema's ` +
        `${domain.length} known values (most frequent: ${examples || 'beyond the tracked values'}); ` +
        `${severity} above ${percent(threshold)} (data.validation.outOfVocabulary.${severity}); ` +
        `if they are legitimate, add them to the domain in ${options.schemaUri}`,
    },
  ];
}

function checkRange(
  name: string,
  feature: FeatureStatistics,
  range: { min: number; max: number },
  options: SchemaCheckOptions,
): Anomaly[] {
  const numeric = feature.numeric;
  if (!numeric) return [];
  const [low, high] = allowedRange(range, options.outOfRange.tolerance);
  if (numeric.min >= low && numeric.max <= high) return [];
  // Coarse bins can put every value of a bin inside; the exact min or max is still outside.
  const outside = Math.max(countOutside(numeric.histogram, low, high), 1);
  const fraction = outside / feature.count;
  const severity = severityOf(fraction, options.outOfRange);
  if (!severity) return [];
  const threshold = severity === 'critical' ? options.outOfRange.critical : options.outOfRange.warning;
  return [
    {
      severity,
      kind: 'out_of_range',
      feature: name,
      value: fraction,
      threshold,
      message:
        `${name}: ${percent(fraction)} of values (${outside} of ${feature.count}) are outside the schema's range ` +
        `[${range.min}, ${range.max}] widened by ${percent(options.outOfRange.tolerance)} to [${low}, ${high}] ` +
        `(seen: ${numeric.min} to ${numeric.max}); critical above ${percent(options.outOfRange.critical)} ` +
        `(data.validation.outOfRange); if the new range is right, widen it in ${options.schemaUri}`,
    },
  ];
}

/** Every way the statistics break the schema: missing or retyped columns, missing values, vocabulary, ranges, labels. */
export function checkAgainstSchema(
  statistics: DatasetStatistics,
  schema: DatasetSchema,
  options: SchemaCheckOptions,
): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const stored = options.spec ? storedColumns(options.spec) : undefined;
  for (const [name, expected] of Object.entries(schema.features)) {
    const feature = statistics.features[name];
    if (!feature && stored && !stored.has(name)) {
      anomalies.push({
        severity: 'warning',
        kind: 'missing_column',
        feature: name,
        message: `${name}: not read by this run's feature spec, so the model will not use it (the schema (${options.schemaUri}) has it as ${expected.type})`,
      });
      continue;
    }
    if (!feature) {
      anomalies.push({
        severity: 'critical',
        kind: 'missing_column',
        feature: name,
        message: `${name}: column is missing; the schema (${options.schemaUri}) has it as ${expected.type}`,
      });
      continue;
    }
    // Schemas inferred before the feature spec stored integer columns as int; shards now store every
    // numeric as float, which holds the same values, so that widening is no change of type.
    const widened = expected.type === 'int' && feature.type === 'float';
    const specKind = stored?.get(name);
    if (feature.type !== expected.type && !widened && specKind !== undefined) {
      anomalies.push({
        severity: 'warning',
        kind: 'type_change',
        feature: name,
        message: `${name}: the feature spec reads it as ${specKind}, stored as ${feature.type}, where the schema (${options.schemaUri}) says ${expected.type}`,
      });
      continue;
    }
    if (feature.type !== expected.type && !widened) {
      anomalies.push({
        severity: 'critical',
        kind: 'type_change',
        feature: name,
        message: `${name}: column is ${feature.type} (${feature.arrowType}) but the schema says ${expected.type}`,
      });
      continue;
    }
    if (feature.conflictingTypes) {
      anomalies.push({
        severity: 'critical',
        kind: 'mixed_types',
        feature: name,
        message: `${name}: column is ${feature.type} in some shards and ${feature.conflictingTypes.join(', ')} in others`,
      });
    }
    if (expected.required && feature.missing > 0) {
      anomalies.push({
        severity: 'critical',
        kind: 'missing_values',
        feature: name,
        value: feature.missing / Math.max(statistics.rows, 1),
        threshold: 0,
        message: `${name}: ${feature.missing} of ${statistics.rows} rows have no value; the schema requires one`,
      });
    }
    if (expected.domain) anomalies.push(...checkVocabulary(name, feature, expected.domain, options));
    if (expected.range) anomalies.push(...checkRange(name, feature, expected.range, options));
  }
  for (const [name, feature] of Object.entries(statistics.features)) {
    if (!(name in schema.features)) {
      anomalies.push({
        severity: 'warning',
        kind: 'new_column',
        feature: name,
        message: `${name}: column (${feature.type}) is not in the schema, so it is not checked; add it to ${options.schemaUri}`,
      });
    }
  }
  const allowedLabels = new Set(schema.label.values);
  const unknown = Object.entries(statistics.labelCounts).filter(([value]) => !allowedLabels.has(value));
  if (unknown.length > 0) {
    anomalies.push({
      severity: 'critical',
      kind: 'unknown_label',
      feature: schema.label.name,
      message:
        `${schema.label.name}: label values ${unknown.map(([value, count]) => `${quote(value)} × ${count}`).join(', ')} ` +
        `are not in the schema's ${schema.label.values.join(', ')}`,
    });
  }
  return anomalies;
}

/** Checks a stored schema's shape, refusing anything that is not one this module wrote. */
export function parseSchema(value: unknown, uri: string): DatasetSchema {
  const schema = (value ?? {}) as Partial<DatasetSchema>;
  if (schema.format !== SCHEMA_FORMAT || typeof schema.features !== 'object' || !schema.label) {
    throw new Error(`${uri} is not a ${SCHEMA_FORMAT} schema`);
  }
  return schema as DatasetSchema;
}
