/**
 * A worked `train.modelModule`: a wide-and-deep model (Cheng et al., 2016). The wide part is a
 * linear model over every categorical value (a 1-wide embedding is a per-value weight) and the
 * numerics; the deep part is an MLP over wider embeddings, the image's small conv tower, and the
 * text's averaged n-gram embeddings. Standard layers only, so the saved model serves without this file.
 *
 * Use it with `{"train": {"modelModule": "docs/examples/wide-and-deep.ts"}}` in the pipeline config
 * (see docs/model-module.md).
 */
// Types only: the layers come from the `tf` the trainer passes, so this file also works from gs://.
import type * as TF from '@tensorflow/tfjs';
import type { FeatureSpec } from '../../contracts/feature-spec';
import type { PipelineConfig } from '../../contracts/pipeline-config';
import type { ModelBuilderContext, ModelInputs } from '../../lib/model/architecture';

export function createModel(
  inputs: ModelInputs,
  spec: FeatureSpec,
  config: PipelineConfig['train'],
  { tf }: ModelBuilderContext,
): TF.LayersModel {
  const apply = (layer: TF.layers.Layer, x: TF.SymbolicTensor | TF.SymbolicTensor[]) =>
    layer.apply(x) as TF.SymbolicTensor;
  const wide: TF.SymbolicTensor[] = [];
  const deep: TF.SymbolicTensor[] = [];

  for (const { column, tensor, cardinality } of inputs.categorical) {
    const name = column.replace(/\W/g, '_');
    const weight = tf.layers.embedding({ inputDim: cardinality, outputDim: 1, name: `wide_${name}` });
    wide.push(apply(tf.layers.flatten({ name: `wide_flat_${name}` }), apply(weight, tensor)));
    const embedding = tf.layers.embedding({
      inputDim: cardinality,
      outputDim: config.embeddingDim,
      name: `deep_${name}`,
    });
    deep.push(apply(tf.layers.flatten({ name: `deep_flat_${name}` }), apply(embedding, tensor)));
  }
  if (inputs.numeric) {
    wide.push(inputs.numeric);
    deep.push(inputs.numeric);
  }
  for (const { column, tensor, cardinality } of inputs.text) {
    const name = column.replace(/\W/g, '_');
    const embedding = tf.layers.embedding({
      inputDim: cardinality,
      outputDim: config.embeddingDim,
      name: `text_${name}`,
    });
    deep.push(
      apply(tf.layers.globalAveragePooling1d({ name: `text_pool_${name}` }), apply(embedding, tensor)),
    );
  }
  if (inputs.image) {
    let x = inputs.image;
    for (const [i, filters] of config.conv.filters.entries()) {
      x = apply(
        tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', name: `conv_${i}` }),
        x,
      );
      x = apply(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same', name: `pool_${i}` }), x);
    }
    deep.push(apply(tf.layers.globalAveragePooling2d({ name: 'image_pool' }), x));
  }

  const join = (parts: TF.SymbolicTensor[], name: string) =>
    parts.length === 1 ? parts[0]! : apply(tf.layers.concatenate({ name }), parts);
  const hidden = apply(
    tf.layers.dense({ units: config.conv.denseUnits, activation: 'relu', name: 'deep_hidden' }),
    join(deep, 'deep_joined'),
  );
  const logits = [
    apply(tf.layers.dense({ units: 1, name: 'deep_logit' }), hidden),
    ...(wide.length > 0
      ? [apply(tf.layers.dense({ units: 1, name: 'wide_logit' }), join(wide, 'wide_joined'))]
      : []),
  ];
  const logit = logits.length === 1 ? logits[0]! : apply(tf.layers.add({ name: 'logit' }), logits);
  const probability = apply(tf.layers.activation({ activation: 'sigmoid', name: spec.output }), logit);
  return tf.model({ inputs: inputs.all, outputs: probability, name: 'wide_and_deep' });
}
