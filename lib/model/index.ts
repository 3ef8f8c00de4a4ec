/** The model library's public API: backend loading, preprocessing, architecture, training, persistence, prediction. */
import type * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from './preprocessing';

export { loadTfBackend, type BackendPreference, type TfBackend } from './backend';
export {
  encodeBatch,
  toModelInputs,
  OOV_INDEX,
  type EncodedBatch,
  type ModelInput,
  type Preprocessing,
} from './preprocessing';
export { fitPreprocessing, PreprocessingFitter } from './preprocessing-fit';
export { createModel, disposeModel } from './architecture';
export {
  trainModel,
  shuffledIndices,
  TrainingAbortedError,
  type TrainModelOptions,
  type TrainModelResult,
  type TrainProgress,
  type EpochEndInfo,
} from './training';
export {
  inMemoryTrainingData,
  scanShards,
  shardTrainingData,
  type LabelledBatch,
  type ShardScan,
  type ShardSource,
  type TrainingData,
} from './input-pipeline';
export {
  saveModelBundle,
  loadModelBundle,
  saveCheckpoint,
  loadCheckpoint,
  ModelBundleError,
  type Checkpoint,
  loadBundlePreprocessing,
} from './persistence';
export type { OptimizerState } from './optimizer-state';
export {
  runTrainJob,
  checkpointPointerUri,
  type CheckpointPointer,
  type CheckpointRef,
  type TrainJob,
  type TrainJobEvent,
  type TrainJobResult,
  type TrainPhase,
} from './train-job';
export {
  runTrainingProcess,
  TrainingJobError,
  TrainingProcessExitError,
  type TrainingProcessOptions,
} from './train-runner';
export { predictProbabilities } from './predict';

/** A trained model together with the preprocessing it was trained with; the unit that is saved, loaded and served. */
export interface ModelBundle {
  model: tf.LayersModel;
  preprocessing: Preprocessing;
}
