/** The model library's public API: backend loading, preprocessing, architecture, training, persistence, prediction. */
import type * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from './preprocessing';

export { loadTfBackend, type BackendPreference, type TfBackend } from './backend';
export {
  encodeBatch,
  fitPreprocessing,
  toModelInputs,
  MODEL_INPUT_NAMES,
  OOV_INDEX,
  type EncodedBatch,
  type ModelInput,
  type Preprocessing,
} from './preprocessing';
export { createModel, disposeModel } from './architecture';
export {
  trainModel,
  TrainingAbortedError,
  type TrainModelOptions,
  type TrainModelResult,
  type TrainProgress,
  type EpochEndInfo,
} from './training';
export { saveModelBundle, loadModelBundle, ModelBundleError } from './persistence';
export { predictProbabilities } from './predict';

/** A trained model together with the preprocessing it was trained with; the unit that is saved, loaded and served. */
export interface ModelBundle {
  model: tf.LayersModel;
  preprocessing: Preprocessing;
}
