/**
 * The model, built from the preprocessing's inputs: a small conv tower over the image (only when the
 * spec has an image column), an embedding per categorical column, the numeric inputs as they are,
 * an averaged n-gram embedding per text column, joined under one hidden layer. Standard layers
 * only, so a saved model serves without this code.
 */
import * as tf from '@tensorflow/tfjs';
import type { PipelineConfig } from '../../contracts/pipeline-config';
import { inputLayout, textSlots, type Preprocessing } from './preprocessing';

type TrainConfig = PipelineConfig['train'];

/** A layer name from a spec's output name (TF.js names take letters, digits and _). */
function outputLayerName(output: string): string {
  return output.replace(/[^A-Za-z0-9_]/g, '_');
}

/** Builds and compiles the model; weights depend only on config.seed, so CPU runs are reproducible. */
export function createModel(config: TrainConfig, preprocessing: Preprocessing): tf.LayersModel {
  // Each layer gets its own seed: equal seeds would give same-shaped layers identical weights.
  let nextSeed = config.seed;
  const kernel = () => tf.initializers.glorotUniform({ seed: nextSeed++ });
  const layout = inputLayout(preprocessing);
  const names = [...layout.names];
  const inputs: tf.SymbolicTensor[] = [];
  const joinedParts: tf.SymbolicTensor[] = [];

  if (layout.image) {
    const s = preprocessing.imageSize;
    const image = tf.input({ shape: [s, s, 3], name: names.shift()!, dtype: 'float32' });
    inputs.push(image);
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
    joinedParts.push(tf.layers.globalAveragePooling2d({ name: 'image_pool' }).apply(x) as tf.SymbolicTensor);
  }

  for (const feature of layout.categorical) {
    const name = names.shift()!;
    const input = tf.input({ shape: [1], name, dtype: 'int32' });
    inputs.push(input);
    const embedding = tf.layers.embedding({
      // +1 for the out-of-vocabulary (or missing) index 0.
      inputDim: (feature.vocabulary?.length ?? feature.buckets!) + 1,
      outputDim: config.embeddingDim,
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: nextSeed++ }),
      name: `embed_${name.slice('cat_'.length)}`,
    });
    joinedParts.push(
      tf.layers
        .flatten({ name: `flat_${name.slice('cat_'.length)}` })
        .apply(embedding.apply(input)) as tf.SymbolicTensor,
    );
  }

  if (layout.numericWidth > 0) {
    const numeric = tf.input({ shape: [layout.numericWidth], name: names.shift()!, dtype: 'float32' });
    inputs.push(numeric);
    joinedParts.push(numeric);
  }

  for (const feature of layout.text) {
    const name = names.shift()!;
    const input = tf.input({ shape: [textSlots(feature)], name, dtype: 'int32' });
    inputs.push(input);
    const embedding = tf.layers.embedding({
      inputDim: feature.buckets + 1,
      outputDim: config.embeddingDim,
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: nextSeed++ }),
      name: `embed_${name}`,
    });
    // The mean over every slot, padding included: a bag of n-grams whose length the model also sees.
    joinedParts.push(
      tf.layers
        .globalAveragePooling1d({ name: `pool_${name}` })
        .apply(embedding.apply(input)) as tf.SymbolicTensor,
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
      name: outputLayerName(preprocessing.spec.output),
    })
    .apply(hidden) as tf.SymbolicTensor;

  const model = tf.model({ inputs, outputs: output, name: 'binary_classifier' });
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
