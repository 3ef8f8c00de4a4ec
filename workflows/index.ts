/** Workflow bundle entry: re-exports only. */
export { modelPipeline } from './pipeline/model-pipeline';
export { canaryRollout } from './canary/canary-rollout';
export { modelRollback } from './model-rollback';
export { batchPredict } from './batch-predict';
export { modelMonitor } from './model-monitor';
