/**
 * Reading preprocessing.json, whichever version wrote it. Version 1 predates feature specs: it was
 * only ever written for the synthetic ads' fixed columns, so it is read as the ads spec with the
 * same vocabularies and normalisation, and a model saved then keeps serving after an upgrade.
 */
import { featureSpecProblems, featureSpecSchema } from '../../contracts/feature-spec';
import { ADS_FEATURE_SPEC } from '../dataset/synthetic-spec';
import { PREPROCESSING_VERSION, type FittedFeature, type Preprocessing } from './preprocessing';

interface PreprocessingV1 {
  version: 1;
  imageSize: number;
  vocabularies: Record<string, string[]>;
  numeric: Record<string, { mean: number; std: number }>;
}

function upgradeV1(value: PreprocessingV1): Preprocessing {
  const features = ADS_FEATURE_SPEC.features.flatMap((feature): FittedFeature[] => {
    switch (feature.kind) {
      case 'image':
        return [{ column: feature.column, kind: 'image' }];
      case 'categorical':
        return [
          {
            column: feature.column,
            kind: 'categorical',
            vocabulary: value.vocabularies[feature.column] ?? [],
          },
        ];
      case 'numeric': {
        const { mean, std } = value.numeric[feature.column] ?? { mean: 0, std: 1 };
        return [
          {
            column: feature.column,
            kind: 'numeric',
            normalize: 'zscore',
            mean,
            std,
            missingIndicator: false,
          },
        ];
      }
      default:
        return [];
    }
  });
  return { version: PREPROCESSING_VERSION, imageSize: value.imageSize, spec: ADS_FEATURE_SPEC, features };
}

/** The preprocessing a parsed preprocessing.json holds, or why it holds none. */
export function readPreprocessing(value: unknown): Preprocessing | { problem: string } {
  const candidate = (value ?? {}) as Partial<Preprocessing> & Partial<PreprocessingV1>;
  if (typeof candidate.imageSize !== 'number') return { problem: 'it has no imageSize' };
  if (candidate.version === 1) {
    if (!candidate.vocabularies || !candidate.numeric)
      return { problem: 'version 1 without vocabularies or numeric' };
    return upgradeV1(candidate as PreprocessingV1);
  }
  if (candidate.version !== PREPROCESSING_VERSION) {
    return {
      problem: `version ${String(candidate.version)} is not one this build reads (1 or ${PREPROCESSING_VERSION})`,
    };
  }
  const spec = featureSpecSchema.safeParse(candidate.spec);
  if (!spec.success)
    return { problem: `its feature spec is invalid: ${featureSpecProblems(spec.error).join('; ')}` };
  if (!Array.isArray(candidate.features)) return { problem: 'it has no features' };
  return { ...(candidate as Preprocessing), spec: spec.data };
}
