/**
 * Saves and loads a model bundle as a folder in the store: model.json, weights.bin, preprocessing.json;
 * a training checkpoint adds the optimizer's state: optimizer.json, optimizer.bin.
 */
import * as tf from '@tensorflow/tfjs';
import { joinUri, NotFoundError, storageFor } from '../storage';
import type { ModelBundle } from './index';
import {
  decodeOptimizerState,
  encodeOptimizerState,
  type EncodedOptimizerState,
  type OptimizerState,
} from './optimizer-state';
import type { Preprocessing } from './preprocessing';
import { readPreprocessing } from './preprocessing-format';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';
const PREPROCESSING_FILE = 'preprocessing.json';
const OPTIMIZER_FILE = 'optimizer.json';
const OPTIMIZER_WEIGHTS_FILE = 'optimizer.bin';

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

/**
 * Writes the bundle's three files under `uri`; model.json is written last so its presence means complete.
 * `metadata` lands in model.json's `userDefinedMetadata` (TF.js's slot for it), e.g. what trained it.
 */
export async function saveModelBundle(
  bundle: ModelBundle,
  uri: string,
  metadata?: Record<string, object>,
): Promise<void> {
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
          ...(metadata ? { userDefinedMetadata: metadata } : {}),
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

function checkPreprocessing(uri: string, value: unknown): Preprocessing {
  const read = readPreprocessing(value);
  if ('problem' in read)
    throw new ModelBundleError(
      uri,
      `${PREPROCESSING_FILE} is not a preprocessing definition: ${read.problem}`,
    );
  return read;
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
    parseJson<unknown>(uri, PREPROCESSING_FILE, await readFile(uri, PREPROCESSING_FILE)),
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

/** A bundle's preprocessing alone (its feature spec inside), without loading the model. */
export async function loadBundlePreprocessing(uri: string): Promise<Preprocessing> {
  return checkPreprocessing(
    uri,
    parseJson<unknown>(uri, PREPROCESSING_FILE, await readFile(uri, PREPROCESSING_FILE)),
  );
}

/** A bundle plus the optimizer state that continues its training exactly. */
export interface Checkpoint {
  bundle: ModelBundle;
  optimizerState: OptimizerState;
}

/**
 * Writes a training checkpoint: the bundle and its compiled model's optimizer state. The optimizer
 * files go first and model.json last, so a folder with model.json holds a whole checkpoint.
 */
export async function saveCheckpoint(bundle: ModelBundle, uri: string): Promise<void> {
  const optimizer = bundle.model.optimizer as tf.Optimizer | undefined;
  if (!optimizer) throw new Error('cannot checkpoint a model that is not compiled (it has no optimizer)');
  const { manifest, data } = await encodeOptimizerState(optimizer);
  const storage = storageFor(uri);
  await storage.write(joinUri(uri, OPTIMIZER_WEIGHTS_FILE), Buffer.from(data));
  await storage.write(joinUri(uri, OPTIMIZER_FILE), JSON.stringify(manifest));
  await saveModelBundle(bundle, uri);
}

/** Loads a checkpoint saved by saveCheckpoint; the caller owns the model and the optimizer tensors. */
export async function loadCheckpoint(uri: string): Promise<Checkpoint> {
  const manifest = parseJson<Partial<EncodedOptimizerState['manifest']>>(
    uri,
    OPTIMIZER_FILE,
    await readFile(uri, OPTIMIZER_FILE),
  );
  if (manifest.version !== 1 || !Array.isArray(manifest.specs)) {
    throw new ModelBundleError(uri, `${OPTIMIZER_FILE} is not a version 1 optimizer state`);
  }
  const bytes = await readFile(uri, OPTIMIZER_WEIGHTS_FILE);
  const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let optimizerState: OptimizerState;
  try {
    optimizerState = decodeOptimizerState({ manifest: manifest as EncodedOptimizerState['manifest'], data });
  } catch (err) {
    throw new ModelBundleError(uri, `cannot decode the optimizer state: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    return { bundle: await loadModelBundle(uri), optimizerState };
  } catch (err) {
    tf.dispose(optimizerState.weights.map((w) => w.tensor));
    throw err;
  }
}
