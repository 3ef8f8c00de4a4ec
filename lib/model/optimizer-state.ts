/**
 * An optimizer's state as data: TF.js `getWeights()` (the step count and, for Adam, both moment
 * estimates of every weight) plus Adam's running powers of β1 and β2, which `setWeights` would
 * otherwise recompute as pow(β, step + 1) and so differ from the running product in the last bits.
 */
import * as tf from '@tensorflow/tfjs';

/** What Optimizer.getWeights returns per entry. */
type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

export interface OptimizerState {
  /** `optimizer.getWeights()`: 'iter' first, then the slots in the optimizer's own order. */
  weights: NamedTensor[];
  /** Adam's accBeta1 / accBeta2 when the optimizer has them. */
  betaPowers?: [number, number];
}

/** The serialised form: a JSON manifest and one binary blob. */
export interface EncodedOptimizerState {
  manifest: {
    version: 1;
    className: string;
    specs: tf.io.WeightsManifestEntry[];
    betaPowers?: [number, number];
  };
  data: ArrayBuffer;
}

/** Adam keeps these private; read them only when they are what we expect. */
function betaVariables(optimizer: tf.Optimizer): [tf.Variable, tf.Variable] | undefined {
  const { accBeta1, accBeta2 } = optimizer as unknown as { accBeta1?: unknown; accBeta2?: unknown };
  return accBeta1 instanceof tf.Variable && accBeta2 instanceof tf.Variable
    ? [accBeta1, accBeta2]
    : undefined;
}

/** Encodes the optimizer's state (copies; the optimizer keeps training). */
export async function encodeOptimizerState(optimizer: tf.Optimizer): Promise<EncodedOptimizerState> {
  const weights = await optimizer.getWeights();
  try {
    const { data, specs } = await tf.io.encodeWeights(weights);
    const betas = betaVariables(optimizer);
    return {
      manifest: {
        version: 1,
        className: optimizer.getClassName(),
        specs,
        ...(betas ? { betaPowers: [betas[0].dataSync()[0]!, betas[1].dataSync()[0]!] } : {}),
      },
      data,
    };
  } finally {
    // getWeights makes a fresh 'iter' scalar; the other entries are the optimizer's live variables.
    weights[0]?.tensor.dispose();
  }
}

/** Decodes what encodeOptimizerState wrote; the caller owns the tensors (restoreOptimizerState frees them). */
export function decodeOptimizerState(encoded: EncodedOptimizerState): OptimizerState {
  const tensors = tf.io.decodeWeights(encoded.data, encoded.manifest.specs);
  return {
    weights: encoded.manifest.specs.map((spec) => ({ name: spec.name, tensor: tensors[spec.name]! })),
    ...(encoded.manifest.betaPowers ? { betaPowers: encoded.manifest.betaPowers } : {}),
  };
}

/**
 * Puts a saved state into a freshly compiled optimizer of the same class, then frees the state's
 * tensors (setWeights copies them into new variables). Adam's slots are matched by position, which
 * is the model's trainable-weight order, the same for the same architecture.
 */
export async function restoreOptimizerState(optimizer: tf.Optimizer, state: OptimizerState): Promise<void> {
  try {
    await optimizer.setWeights(state.weights);
    const betas = betaVariables(optimizer);
    const powers = state.betaPowers;
    if (betas && powers) {
      tf.tidy(() => {
        betas[0].assign(tf.scalar(powers[0]));
        betas[1].assign(tf.scalar(powers[1]));
      });
    }
  } finally {
    tf.dispose(state.weights.map((w) => w.tensor));
  }
}

/** Frees a state that will not be restored. */
export function disposeOptimizerState(state: OptimizerState): void {
  tf.dispose(state.weights.map((w) => w.tensor));
}
