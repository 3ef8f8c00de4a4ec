/**
 * Which feature spec a run reads its data by: the one the user gave (`pipeline start --features`),
 * else the production version's (so a retraining reads the data as production was trained on it),
 * else one inferred from the data as `mlops data describe` would. Whichever it is, the run says so.
 */
import { parseFeatureSpec, type FeatureSpec } from '../../contracts/feature-spec';
import { describeDataset, DescribeError } from '../../lib/dataset/spec-inference';
import { loadBundlePreprocessing, ModelBundleError } from '../../lib/model/index';
import { ModelRegistry } from '../../lib/registry/index';
import { NotFoundError, storageFor } from '../../lib/storage/index';
import { DatasetError } from './plan';

export interface ResolvedFeatureSpec {
  spec: FeatureSpec;
  /** Where it came from, as the run's summary says it: "given: …", "production version 3", "inferred …". */
  source: string;
}

export interface FeatureSpecRequest {
  dataUri: string;
  /** A spec the user gave, already in the store. */
  featureSpecUri?: string;
  /** The model whose production version's spec applies when none was given. */
  modelName?: string;
  storeUri: string;
}

async function readGivenSpec(uri: string): Promise<FeatureSpec> {
  let text: string;
  try {
    text = (await storageFor(uri).read(uri)).toString('utf8');
  } catch (err) {
    if (err instanceof NotFoundError) throw new DatasetError(`the feature spec ${uri} does not exist`);
    throw err;
  }
  try {
    return parseFeatureSpec(text, uri);
  } catch (err) {
    throw new DatasetError((err as Error).message);
  }
}

async function productionSpec(storeUri: string, modelName: string): Promise<ResolvedFeatureSpec | undefined> {
  const production = await new ModelRegistry(storeUri).getProduction(modelName);
  if (!production) return undefined;
  try {
    const { spec } = await loadBundlePreprocessing(production.modelUri);
    return { spec, source: `production version ${production.version} of ${modelName}` };
  } catch (err) {
    if (err instanceof ModelBundleError) return undefined;
    throw err;
  }
}

/** The run's spec and its source; a spec that cannot be had is a DatasetError saying why. */
export async function resolveFeatureSpec(request: FeatureSpecRequest): Promise<ResolvedFeatureSpec> {
  if (request.featureSpecUri) {
    return { spec: await readGivenSpec(request.featureSpecUri), source: `given: ${request.featureSpecUri}` };
  }
  const fromProduction = request.modelName
    ? await productionSpec(request.storeUri, request.modelName)
    : undefined;
  if (fromProduction) return fromProduction;
  try {
    const described = await describeDataset(request.dataUri);
    return {
      spec: described.spec,
      source: `inferred from the data (no --features, no production version): ${described.notes.length} notes, see mlops data describe`,
    };
  } catch (err) {
    if (err instanceof DescribeError) throw new DatasetError(`cannot infer a feature spec: ${err.message}`);
    throw err;
  }
}
