/** Loads a model version and proves it can predict before any traffic is routed to it. */
import type { AdFeatures } from '../lib/dataset/schema';
import { loadModelBundle, predictProbabilities, type ModelBundle } from '../lib/model';
import { LoadedVersion } from './loaded-version';

/** How bundles are read; the default reads the store, tests may wrap it to slow it down. */
export type BundleLoader = (modelUri: string) => Promise<ModelBundle>;

const WARM_UP_FEATURES: AdFeatures = {
  advertiser: 'warm-up',
  category: 'warm-up',
  placement: 'warm-up',
  device: 'warm-up',
  hour: 0,
  headline_length: 0,
};

/**
 * Loads and warms up one version. A bundle that loads but cannot predict (shape mismatch, broken
 * preprocessing) fails here, so the previous routing table keeps serving instead of failing requests.
 */
export async function loadVersion(
  model: string,
  version: string,
  modelUri: string,
  loadBundle: BundleLoader = loadModelBundle,
): Promise<LoadedVersion> {
  const bundle = await loadBundle(modelUri);
  try {
    const size = bundle.preprocessing.imageSize;
    const pixels = new Uint8Array(size * size * 3);
    const [probability] = await predictProbabilities(bundle, [{ ...WARM_UP_FEATURES, pixels }]);
    if (probability === undefined || !Number.isFinite(probability)) {
      throw new Error(`warm-up prediction returned ${String(probability)}`);
    }
  } catch (err) {
    bundle.model.dispose();
    throw new Error(
      `model ${model} version ${version} at ${modelUri} cannot predict: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return new LoadedVersion(model, version, modelUri, bundle);
}
