/**
 * The model, built from the preprocessing's inputs: a small conv tower over the image (only when the
 * spec has an image column), an embedding per categorical column, the numeric inputs as they are,
 * an averaged n-gram embedding per text column, joined under one hidden layer. Standard layers
 * only, so a saved model serves without this code.
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureSpec } from '../../contracts/feature-spec';
import type { PipelineConfig } from '../../contracts/pipeline-config';
import { inputLayout, textSlots, type Preprocessing } from './preprocessing';

type TrainConfig = PipelineConfig['train'];

/** A layer name from a spec's output name (TF.js names take letters, digits and _). */
function outputLayerName(output: string): string {
  return output.replace(/[^A-Za-z0-9_]/g, '_');
}

/**
 * The model's inputs as the trainer feeds them, for the default architecture and for a user's
 * `train.modelModule` alike. Indices are 0 for out-of-vocabulary, missing or padding.
 */
export interface ModelInputs {
  /** Every input, in the order the trainer feeds them: the model must take exactly these. */
  all: tf.SymbolicTensor[];
  /** [imageSize, imageSize, 3] floats in 0..1, when the spec has an image column. */
  image?: tf.SymbolicTensor;
  /** Per categorical column, a [1] int32 index in 0..cardinality − 1. */
  categorical: Array<{ column: string; tensor: tf.SymbolicTensor; cardinality: number }>;
  /** [width] floats: each numeric column normalised, and its missing indicator when it has one. */
  numeric?: tf.SymbolicTensor;
  /** Per text column, [slots] int32 hashed n-gram indices in 0..cardinality − 1. */
  text: Array<{ column: string; tensor: tf.SymbolicTensor; cardinality: number }>;
}

/** What a model builder is given beside its inputs: the trainer's own TF.js, whose layers it must use. */
export interface ModelBuilderContext {
  tf: typeof tf;
}

/** Builds a model's graph from its inputs; a `train.modelModule` exports one as `createModel`. */
export type ModelBuilder = (
  inputs: ModelInputs,
  spec: FeatureSpec,
  config: TrainConfig,
  context: ModelBuilderContext,
) => tf.LayersModel;

/** Creates the input tensors for a preprocessing, named as the trainer and server feed them. */
export function createModelInputs(preprocessing: Preprocessing): ModelInputs {
  const layout = inputLayout(preprocessing);
  const names = [...layout.names];
  const inputs: ModelInputs = { all: [], categorical: [], text: [] };
  if (layout.image) {
    const s = preprocessing.imageSize;
    inputs.image = tf.input({ shape: [s, s, 3], name: names.shift()!, dtype: 'float32' });
    inputs.all.push(inputs.image);
  }
  for (const feature of layout.categorical) {
    const tensor = tf.input({ shape: [1], name: names.shift()!, dtype: 'int32' });
    // +1 for the out-of-vocabulary (or missing) index 0.
    const cardinality = (feature.vocabulary?.length ?? feature.buckets!) + 1;
    inputs.categorical.push({ column: feature.column, tensor, cardinality });
    inputs.all.push(tensor);
  }
  if (layout.numericWidth > 0) {
    inputs.numeric = tf.input({ shape: [layout.numericWidth], name: names.shift()!, dtype: 'float32' });
    inputs.all.push(inputs.numeric);
  }
  for (const feature of layout.text) {
    const tensor = tf.input({ shape: [textSlots(feature)], name: names.shift()!, dtype: 'int32' });
    inputs.text.push({ column: feature.column, tensor, cardinality: feature.buckets + 1 });
    inputs.all.push(tensor);
  }
  return inputs;
}

/** The default architecture; weights depend only on config.seed, so CPU runs are reproducible. */
export const defaultModelBuilder: ModelBuilder = (inputs, spec, config) => {
  // Each layer gets its own seed: equal seeds would give same-shaped layers identical weights.
  let nextSeed = config.seed;
  const kernel = () => tf.initializers.glorotUniform({ seed: nextSeed++ });
  const joinedParts: tf.SymbolicTensor[] = [];

  if (inputs.image) {
    let x = inputs.image;
    config.conv.filters.forEach((filters, i) => {
      x = tf.layers
        .conv2d({
          filters,
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: kernel(),
          name: `conv_${i}`,
        })
        .apply(x) as tf.SymbolicTensor;
      // 'same' pooling keeps a 1×1 map at 1×1, so any filter count works at the smallest image size.
      x = tf.layers
        .maxPooling2d({ poolSize: 2, padding: 'same', name: `pool_${i}` })
        .apply(x) as tf.SymbolicTensor;
    });
    joinedParts.push(tf.layers.globalAveragePooling2d({ name: 'image_pool' }).apply(x) as tf.SymbolicTensor);
  }

  for (const { tensor, cardinality } of inputs.categorical) {
    const suffix = tensor.sourceLayer.name.replace(/^cat_/, '');
    const embedding = tf.layers.embedding({
      inputDim: cardinality,
      outputDim: config.embeddingDim,
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: nextSeed++ }),
      name: `embed_${suffix}`,
    });
    joinedParts.push(
      tf.layers.flatten({ name: `flat_${suffix}` }).apply(embedding.apply(tensor)) as tf.SymbolicTensor,
    );
  }

  if (inputs.numeric) joinedParts.push(inputs.numeric);

  for (const { tensor, cardinality } of inputs.text) {
    const name = tensor.sourceLayer.name;
    const embedding = tf.layers.embedding({
      inputDim: cardinality,
      outputDim: config.embeddingDim,
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: nextSeed++ }),
      name: `embed_${name}`,
    });
    // The mean over every slot, padding included: a bag of n-grams whose length the model also sees.
    joinedParts.push(
      tf.layers
        .globalAveragePooling1d({ name: `pool_${name}` })
        .apply(embedding.apply(tensor)) as tf.SymbolicTensor,
    );
  }

  const joined =
    joinedParts.length === 1
      ? joinedParts[0]!
      : (tf.layers.concatenate({ name: 'joined' }).apply(joinedParts) as tf.SymbolicTensor);
  const hidden = tf.layers
    .dense({ units: config.conv.denseUnits, activation: 'relu', kernelInitializer: kernel(), name: 'hidden' })
    .apply(joined) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: kernel(),
      name: outputLayerName(spec.output),
    })
    .apply(hidden) as tf.SymbolicTensor;
  return tf.model({ inputs: inputs.all, outputs: output, name: 'binary_classifier' });
};

/** Builds (with `builder`, the default architecture unless a model module gave one) and compiles the model. */
export function createModel(
  config: TrainConfig,
  preprocessing: Preprocessing,
  builder: ModelBuilder = defaultModelBuilder,
): tf.LayersModel {
  const model = builder(createModelInputs(preprocessing), preprocessing.spec, config, { tf });
  compileModel(model, config);
  return model;
}

/** Compiles for training; also used on a loaded model before resuming (its optimizer state starts fresh). */
export function compileModel(model: tf.LayersModel, config: TrainConfig): void {
  model.compile({ optimizer: tf.train.adam(config.learningRate), loss: 'binaryCrossentropy' });
}

/** Frees a model's weights and its optimizer state, which LayersModel.dispose leaves when the optimizer was passed in. */
export function disposeModel(model: tf.LayersModel): void {
  const optimizer = (model as { optimizer?: tf.Optimizer }).optimizer;
  model.dispose();
  optimizer?.dispose();
}
