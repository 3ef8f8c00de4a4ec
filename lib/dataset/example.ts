/**
 * One example of any dataset, as shards store it and every stage reads it: a property per stored
 * spec column (categorical and text as strings, numerics as numbers, null when missing), the id as
 * a string, the label as 0 or 1 under the label column's name, and the decoded image as `pixels`.
 */
import type { FeatureSpec } from '../../contracts/feature-spec';

export type FeatureValue = string | number | null;

export interface DatasetExample {
  readonly [column: string]: FeatureValue | Uint8Array | undefined;
  /** imageSize × imageSize × 3 RGB bytes, row-major; present when the spec has an image column. */
  readonly pixels?: Uint8Array;
}

/** Where an example's decoded image lives; a spec column of that name would collide with it. */
export const PIXELS_KEY = 'pixels';

/** The example's label, 0 or 1. */
export function labelOf(example: DatasetExample, spec: FeatureSpec): number {
  return example[spec.label.column] as number;
}

/** The example's id, or undefined for a spec without an id column. */
export function idOf(example: DatasetExample, spec: FeatureSpec): string | undefined {
  return spec.id === undefined ? undefined : String(example[spec.id]);
}

/** The spec's image column, if it has one. */
export function imageColumnOf(spec: FeatureSpec): string | undefined {
  return spec.features.find((feature) => feature.kind === 'image')?.column;
}
