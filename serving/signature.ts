/**
 * A version's serving signature in TensorFlow Serving's metadata shape, from its feature spec: one
 * input per model column with its dtype, and the probability output under the spec's output name.
 */
import type { FeatureSpec } from '../contracts/feature-spec';

/** TF Serving's name for the one signature a model here has. */
export const SIGNATURE_NAME = 'serving_default';

type Dtype = 'DT_STRING' | 'DT_FLOAT';

/** One tensor of a signature: a batch of scalars (`-1`: any batch size). */
export interface TensorInfo {
  dtype: Dtype;
  tensor_shape: { dim: Array<{ size: string; name: string }>; unknown_rank: false };
  name: string;
  /** Ours beside TF Serving's fields: the spec's kind, whether null is accepted, and how to send it. */
  kind: 'categorical' | 'numeric' | 'text' | 'image' | 'probability';
  nullable?: boolean;
  encoding?: string;
}

export interface SignatureDef {
  inputs: Record<string, TensorInfo>;
  outputs: Record<string, TensorInfo>;
  method_name: 'tensorflow/serving/predict';
}

function tensor(name: string, dtype: Dtype, kind: TensorInfo['kind']): TensorInfo {
  return { dtype, tensor_shape: { dim: [{ size: '-1', name: '' }], unknown_rank: false }, name, kind };
}

/** The signature of a model trained on `spec`. */
export function signatureOf(spec: FeatureSpec): SignatureDef {
  const inputs: Record<string, TensorInfo> = {};
  for (const feature of spec.features) {
    if (feature.kind === 'ignored') continue;
    const info = tensor(feature.column, feature.kind === 'numeric' ? 'DT_FLOAT' : 'DT_STRING', feature.kind);
    if (feature.kind === 'image') {
      info.encoding = '{"b64": "<base64 of a PNG, JPEG or WebP>"} or a URI under an allowed root';
    } else {
      info.nullable = !feature.required && !(feature.kind === 'numeric' && !feature.missingIndicator);
    }
    inputs[feature.column] = info;
  }
  return {
    inputs,
    outputs: { [spec.output]: tensor(spec.output, 'DT_FLOAT', 'probability') },
    method_name: 'tensorflow/serving/predict',
  };
}
