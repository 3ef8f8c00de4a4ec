/** Saves and loads a model bundle as a folder in the store: model.json, weights.bin, preprocessing.json. */
import * as tf from '@tensorflow/tfjs';
import { joinUri, NotFoundError, storageFor } from '../storage';
import type { ModelBundle } from './index';
import type { Preprocessing } from './preprocessing';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';
const PREPROCESSING_FILE = 'preprocessing.json';

/** A bundle folder that is missing, incomplete or unreadable; the message names the URI. */
export class ModelBundleError extends Error {
  constructor(
    readonly uri: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`model bundle at ${uri}: ${message}`, options);
    this.name = 'ModelBundleError';
  }
}

/** Writes the bundle's three files under `uri`; model.json is written last so its presence means complete. */
export async function saveModelBundle(bundle: ModelBundle, uri: string): Promise<void> {
  const storage = storageFor(uri);
  let files: { modelJson: tf.io.ModelJSON; weights: ArrayBuffer } | undefined;
  await bundle.model.save(
    tf.io.withSaveHandler((artifacts) => {
      if (
        !artifacts.modelTopology ||
        artifacts.modelTopology instanceof ArrayBuffer ||
        !artifacts.weightSpecs
      ) {
        throw new Error('TF.js produced no Keras JSON topology or weight specs');
      }
      files = {
        modelJson: {
          modelTopology: artifacts.modelTopology,
          format: artifacts.format,
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy,
          weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
        },
        weights: tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []),
      };
      return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) });
    }),
  );
  if (!files) throw new Error('TF.js did not call the save handler');
  await storage.write(joinUri(uri, WEIGHTS_FILE), Buffer.from(files.weights));
  await storage.write(joinUri(uri, PREPROCESSING_FILE), JSON.stringify(bundle.preprocessing, null, 2));
  await storage.write(joinUri(uri, MODEL_FILE), JSON.stringify(files.modelJson));
}

async function readFile(uri: string, name: string): Promise<Buffer> {
  const fileUri = joinUri(uri, name);
  try {
    return await storageFor(fileUri).read(fileUri);
  } catch (err) {
    if (err instanceof NotFoundError) throw new ModelBundleError(uri, `${name} is missing`, { cause: err });
    throw new ModelBundleError(uri, `cannot read ${name}: ${(err as Error).message}`, { cause: err });
  }
}

function parseJson<T>(uri: string, name: string, bytes: Buffer): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err) {
    throw new ModelBundleError(uri, `${name} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

function checkPreprocessing(uri: string, value: Partial<Preprocessing>): Preprocessing {
  if (value.version !== 1 || typeof value.imageSize !== 'number' || !value.vocabularies || !value.numeric) {
    throw new ModelBundleError(uri, `${PREPROCESSING_FILE} is not a version 1 preprocessing definition`);
  }
  return value as Preprocessing;
}

/** Loads a bundle saved by saveModelBundle; fails with ModelBundleError naming the URI when it is missing or corrupt. */
export async function loadModelBundle(uri: string): Promise<ModelBundle> {
  const modelJson = parseJson<Partial<tf.io.ModelJSON>>(uri, MODEL_FILE, await readFile(uri, MODEL_FILE));
  const weightSpecs = modelJson.weightsManifest?.flatMap((group) => group.weights);
  if (!modelJson.modelTopology || !weightSpecs) {
    throw new ModelBundleError(uri, `${MODEL_FILE} lacks modelTopology or weightsManifest`);
  }
  const preprocessing = checkPreprocessing(
    uri,
    parseJson<Partial<Preprocessing>>(uri, PREPROCESSING_FILE, await readFile(uri, PREPROCESSING_FILE)),
  );
  const weightBytes = await readFile(uri, WEIGHTS_FILE);
  // Copy out of Node's pooled Buffer: TF.js reads the whole ArrayBuffer from offset 0.
  const weightData = weightBytes.buffer.slice(
    weightBytes.byteOffset,
    weightBytes.byteOffset + weightBytes.byteLength,
  );
  try {
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs,
        weightData,
        format: modelJson.format,
      }),
    );
    return { model, preprocessing };
  } catch (err) {
    throw new ModelBundleError(uri, `cannot rebuild the model: ${(err as Error).message}`, { cause: err });
  }
}
