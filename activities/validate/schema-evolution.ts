/**
 * Schema evolution for retraining on data that moved on purpose: the model's schema widened to what a
 * dataset holds (ranges stretched, new categorical values added), with a revision saying who and why.
 * Only widening: nothing a dataset lacks is removed, so an older dataset still passes.
 */
import type { DatasetSchema, FeatureSchema } from './schema-inference';
import type { DatasetStatistics } from '../../lib/dataset/statistics';

/** One change of the schema, kept in `revisions` of schema.json. */
export interface SchemaRevision {
  at: string;
  /** The pipeline run whose data widened it. */
  by: { workflowId: string; runId: string };
  reason: string;
  changes: string[];
}

export interface EvolvingSchema extends DatasetSchema {
  revisions?: SchemaRevision[];
}

export interface WidenOptions {
  /** A domain growing past this many values is dropped (the feature is then unchecked), as inference does. */
  maxDomainSize: number;
}

function widenFeature(
  name: string,
  expected: FeatureSchema,
  statistics: DatasetStatistics,
  options: WidenOptions,
): { feature: FeatureSchema; changes: string[] } {
  const seen = statistics.features[name];
  if (!seen || seen.type !== expected.type) return { feature: expected, changes: [] };
  const changes: string[] = [];
  const feature: FeatureSchema = { ...expected };
  if (expected.range && seen.numeric && seen.count > 0) {
    const min = Math.min(expected.range.min, seen.numeric.min);
    const max = Math.max(expected.range.max, seen.numeric.max);
    if (min !== expected.range.min || max !== expected.range.max) {
      feature.range = { min, max };
      changes.push(`${name}: range [${expected.range.min}, ${expected.range.max}] → [${min}, ${max}]`);
    }
  }
  if (expected.domain && seen.categorical) {
    const known = new Set(expected.domain);
    const added = seen.categorical.top.map(([value]) => value).filter((value) => !known.has(value));
    const untracked = seen.categorical.otherCount > 0;
    if (untracked || expected.domain.length + added.length > options.maxDomainSize) {
      delete feature.domain;
      changes.push(
        `${name}: domain of ${expected.domain.length} values dropped (the data has ` +
          `${untracked ? 'more values than are tracked' : `${expected.domain.length + added.length} values, over ${options.maxDomainSize}`}); no longer checked`,
      );
    } else if (added.length > 0) {
      feature.domain = [...expected.domain, ...added].sort();
      changes.push(`${name}: domain + ${added.map((value) => JSON.stringify(value)).join(', ')}`);
    }
  }
  return { feature, changes };
}

/** The schema widened to hold `statistics`, and what changed (empty when the data already fits). */
export function widenSchema(
  schema: DatasetSchema,
  statistics: DatasetStatistics,
  options: WidenOptions,
): { schema: DatasetSchema; changes: string[] } {
  const features: Record<string, FeatureSchema> = {};
  const changes: string[] = [];
  for (const [name, expected] of Object.entries(schema.features)) {
    const widened = widenFeature(name, expected, statistics, options);
    features[name] = widened.feature;
    changes.push(...widened.changes);
  }
  return { schema: { ...schema, features }, changes };
}

/** `current` widened to `statistics` with a revision recorded; unchanged (same object) when nothing widens. */
export function reviseSchema(
  current: EvolvingSchema,
  statistics: DatasetStatistics,
  revision: Omit<SchemaRevision, 'changes'>,
  options: WidenOptions,
): EvolvingSchema {
  const { schema, changes } = widenSchema(current, statistics, options);
  if (changes.length === 0) return current;
  return { ...schema, revisions: [...(current.revisions ?? []), { ...revision, changes }] };
}
