/** Loads a model version and proves it can predict before any traffic is routed to it. */
import type { DatasetExample } from '../lib/dataset/example';
import { loadModelBundle, predictProbabilities, type ModelBundle, type Preprocessing } from '../lib/model';
import { LoadedVersion } from './loaded-version';

/** How bundles are read; the default reads the store, tests may wrap it to slow it down. */
export type BundleLoader = (modelUri: string) => Promise<ModelBundle>;

/** An input every spec accepts: categoricals and text missing (out of vocabulary, no words), numerics 0, a black image. */
function warmUpInput(preprocessing: Preprocessing): DatasetExample {
  const size = preprocessing.imageSize;
  const numerics = preprocessing.features.filter((feature) => feature.kind === 'numeric');
  return {
    ...Object.fromEntries(numerics.map((feature) => [feature.column, 0])),
    pixels: new Uint8Array(size * size * 3),
  };
}

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
    const [probability] = await predictProbabilities(bundle, [warmUpInput(bundle.preprocessing)]);
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
