/** The click model: a small conv tower over the ad image and an embedding tower over the tabular features. */
import * as tf from '@tensorflow/tfjs';
import type { PipelineConfig } from '../../contracts/pipeline-config';
import { CATEGORICAL_FEATURES, NUMERIC_FEATURES } from '../dataset/schema';
import { MODEL_INPUT_NAMES, type Preprocessing } from './preprocessing';

type TrainConfig = PipelineConfig['train'];

/** Builds and compiles the model; weights depend only on config.seed, so CPU runs are reproducible. */
export function createModel(config: TrainConfig, preprocessing: Preprocessing): tf.LayersModel {
  // Each layer gets its own seed: equal seeds would give same-shaped layers identical weights.
  let nextSeed = config.seed;
  const kernel = () => tf.initializers.glorotUniform({ seed: nextSeed++ });
  const [imageName, ...rest] = MODEL_INPUT_NAMES;
  const categoricalNames = rest.slice(0, CATEGORICAL_FEATURES.length);
  const numericName = rest[CATEGORICAL_FEATURES.length]!;

  const s = preprocessing.imageSize;
  const image = tf.input({ shape: [s, s, 3], name: imageName, dtype: 'float32' });
  let x = image;
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
  const imageFeatures = tf.layers
    .globalAveragePooling2d({ name: 'image_pool' })
    .apply(x) as tf.SymbolicTensor;

  const categoricalInputs = CATEGORICAL_FEATURES.map((feature, i) =>
    tf.input({ shape: [1], name: categoricalNames[i]!, dtype: 'int32' }),
  );
  const embedded = CATEGORICAL_FEATURES.map((feature, i) => {
    const embedding = tf.layers.embedding({
      // +1 for the out-of-vocabulary index 0.
      inputDim: preprocessing.vocabularies[feature].length + 1,
      outputDim: config.embeddingDim,
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: nextSeed++ }),
      name: `embed_${feature}`,
    });
    return tf.layers
      .flatten({ name: `flat_${feature}` })
      .apply(embedding.apply(categoricalInputs[i]!)) as tf.SymbolicTensor;
  });
  const numeric = tf.input({ shape: [NUMERIC_FEATURES.length], name: numericName, dtype: 'float32' });

  const joined = tf.layers
    .concatenate({ name: 'joined' })
    .apply([imageFeatures, ...embedded, numeric]) as tf.SymbolicTensor;
  const hidden = tf.layers
    .dense({ units: config.conv.denseUnits, activation: 'relu', kernelInitializer: kernel(), name: 'hidden' })
    .apply(joined) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({ units: 1, activation: 'sigmoid', kernelInitializer: kernel(), name: 'click_probability' })
    .apply(hidden) as tf.SymbolicTensor;

  const model = tf.model({
    inputs: [image, ...categoricalInputs, numeric],
    outputs: output,
    name: 'ad_click',
  });
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
