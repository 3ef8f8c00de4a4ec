/**
 * A user's own model code (TFX's module file): `train.modelModule` names a TypeScript or
 * JavaScript file exporting `createModel(inputs, spec, config, { tf })` that returns a TF.js layers
 * model over the given inputs, built with the given `tf` (the trainer's own TF.js: a file outside
 * the project, or fetched from gs://, has no node_modules to import it from). It is checked before training so a mistake fails at once, plainly: the
 * model must take exactly the trainer's inputs, end in one sigmoid-sized output, and be made of
 * standard layers only, so the saved model serves without the user's code.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { require as tsxRequire } from 'tsx/cjs/api';
import { schemeOf, storageFor, toLocalPath } from '../storage';
import type { ModelBuilder, ModelInputs } from './architecture';

/** Bad model code: retrying cannot help, so the train activity fails for good on it. */
export class ModelModuleError extends Error {
  override readonly name = 'ModelModuleError';
}

/** A local copy of the module: a path as is, a gs:// object downloaded once by content. */
async function localCopy(uri: string): Promise<string> {
  if (schemeOf(uri) === 'file') return path.resolve(toLocalPath(uri));
  const bytes = await storageFor(uri).read(uri);
  const digest = crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const file = path.join(os.tmpdir(), 'mlops-model-modules', `${digest}${path.posix.extname(uri)}`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes);
  return file;
}

/** Loads `uri` (a local path or gs://) and answers its `createModel`, checked on every model it builds. */
export async function loadModelModule(uri: string): Promise<ModelBuilder> {
  let file: string;
  try {
    file = await localCopy(uri);
    await fs.access(file);
  } catch (err) {
    throw new ModelModuleError(`train.modelModule ${uri} cannot be read: ${(err as Error).message}`);
  }
  // The layer classes TF.js itself registers: what a server without the user's code can rebuild.
  const standard = new Set(Object.keys(tf.serialization.SerializationMap.getMap().classNameMap));
  let loaded: { createModel?: unknown; default?: unknown };
  try {
    // tsx compiles TypeScript as it loads, whether or not this process itself runs under tsx; its
    // packages (@tensorflow/tfjs) come from the same require cache, so its layers are the trainer's.
    loaded = tsxRequire(file, __filename) as typeof loaded;
  } catch (err) {
    throw new ModelModuleError(`train.modelModule ${uri} failed to load: ${(err as Error).message}`);
  }
  // A named export, a CommonJS/ESM default object holding it, or `export default function createModel`.
  const fallback = loaded.default;
  const createModel =
    loaded.createModel ??
    (typeof fallback === 'function'
      ? fallback
      : (fallback as { createModel?: unknown } | undefined)?.createModel);
  if (typeof createModel !== 'function') {
    throw new ModelModuleError(
      `train.modelModule ${uri} exports no createModel(inputs, spec, config) function`,
    );
  }
  return (inputs, spec, config, context) => {
    let model: unknown;
    try {
      model = (createModel as ModelBuilder)(inputs, spec, config, context);
    } catch (err) {
      throw new ModelModuleError(`createModel of ${uri} threw: ${(err as Error).message}`);
    }
    checkModel(model, inputs, uri, standard);
    return model;
  };
}

/** The model must be a layers model over exactly the trainer's inputs, with one output per row, of standard layers. */
function checkModel(
  model: unknown,
  inputs: ModelInputs,
  uri: string,
  standard: ReadonlySet<string>,
): asserts model is tf.LayersModel {
  if (!(model instanceof tf.LayersModel)) {
    throw new ModelModuleError(
      `createModel of ${uri} must return a tf.LayersModel (tf.model({inputs: inputs.all, outputs})); ` +
        "build it with the tf it is given (createModel's fourth argument), the trainer's own TF.js",
    );
  }
  const expected = inputs.all.map((tensor) => tensor.sourceLayer.name);
  const got = model.inputs.map((tensor) => tensor.sourceLayer.name);
  if (expected.join(',') !== got.join(',')) {
    throw new ModelModuleError(
      `createModel of ${uri} must take exactly inputs.all (${expected.join(', ')}) in that order; its model takes ${got.join(', ') || 'none'}`,
    );
  }
  const shapes = model.outputs.map((output) => JSON.stringify(output.shape));
  if (shapes.length !== 1 || shapes[0] !== '[null,1]') {
    throw new ModelModuleError(
      `createModel of ${uri} must have one output of shape [null,1] (the probability, e.g. a 1-unit sigmoid dense layer); it has ${shapes.join(', ')}`,
    );
  }
  const custom = model.layers.filter((layer) => !standard.has(layer.getClassName()));
  if (custom.length > 0) {
    throw new ModelModuleError(
      `createModel of ${uri} uses layers the server cannot rebuild without your code (${custom
        .map((layer) => `${layer.name}: ${layer.getClassName()}`)
        .join(', ')}); use standard TF.js layers only`,
    );
  }
}
