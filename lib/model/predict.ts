/** Batch inference: click probabilities for examples, in the same preprocessing the model was trained with. */
import * as tf from '@tensorflow/tfjs';
import type { ModelBundle } from './index';
import { encodeBatch, encodedToTensors, gatherRows, type ModelInput } from './preprocessing';

/** Rows per forward pass; bounds peak memory for large scoring jobs (256 × 32×32×3 floats ≈ 3 MB). */
const PREDICT_BATCH_SIZE = 256;

/** Click probability per input, in input order; yields to the event loop between chunks. */
export async function predictProbabilities(
  bundle: ModelBundle,
  inputs: readonly ModelInput[],
): Promise<Float32Array> {
  const { model, preprocessing } = bundle;
  const encoded = encodeBatch(preprocessing, inputs);
  const result = new Float32Array(inputs.length);
  for (let start = 0; start < inputs.length; start += PREDICT_BATCH_SIZE) {
    const end = Math.min(inputs.length, start + PREDICT_BATCH_SIZE);
    const rows = Uint32Array.from({ length: end - start }, (_, i) => start + i);
    const output = tf.tidy(() => {
      const xs = encodedToTensors(preprocessing, gatherRows(encoded, rows));
      return model.predict(xs, { batchSize: rows.length }) as tf.Tensor;
    });
    try {
      result.set(await output.data<'float32'>(), start);
    } finally {
      output.dispose();
    }
    if (end < inputs.length) await new Promise((resolve) => setImmediate(resolve));
  }
  return result;
}
