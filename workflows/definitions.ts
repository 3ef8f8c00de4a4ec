/**
 * Temporal names shared by workflows, workers and scripts: task queues, signals, queries and
 * search attribute keys. Workflow-safe: types and `@temporalio/workflow` definitions only.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { PipelineConfig } from '../lib/config-schema';

/** Default task queue for workflows and light activities. */
export const CONTROL_TASK_QUEUE = 'ml-control';
/** Default task queue for training, evaluation and batch scoring. */
export const GPU_TASK_QUEUE = 'ml-gpu';

/** Workflow type names, as the contract in DESIGN.md states them. */
export const PIPELINE_WORKFLOW_TYPE = 'modelPipeline';
export const CANARY_WORKFLOW_TYPE = 'canaryRollout';

/** Custom search attributes so the Web UI's list can be filtered by model and stage. */
export const ML_MODEL = defineSearchAttributeKey('MlModel', SearchAttributeType.KEYWORD);
export const ML_MODEL_VERSION = defineSearchAttributeKey('MlModelVersion', SearchAttributeType.KEYWORD);
export const ML_STAGE = defineSearchAttributeKey('MlStage', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTE_NAMES = [ML_MODEL.name, ML_MODEL_VERSION.name, ML_STAGE.name] as const;

/** Payload of the `approve` signal, typed from the Web UI as {"by": "name"}. */
export interface ApprovePayload {
  by: string;
  comment?: string;
}

/** Payload of the `reject` signal. */
export interface RejectPayload {
  by: string;
  reason?: string;
}

export const approveSignal = defineSignal<[ApprovePayload]>('approve');
export const rejectSignal = defineSignal<[RejectPayload]>('reject');
export const statusQuery = defineQuery<PipelineStatus>('status');
export const rolloutStatusQuery = defineQuery<RolloutStatus>('status');

/** Stages a pipeline passes through, also written to the MlStage search attribute. */
export type PipelineStage =
  | 'ingest'
  | 'validate'
  | 'train'
  | 'evaluate'
  | 'register'
  | 'awaiting-approval'
  | 'rejected'
  | 'canary'
  | 'production'
  | 'rolled-back'
  | 'failed';

/** Input of `modelPipeline`: one object so fields can be added without breaking running workflows. */
export interface PipelineInput {
  modelName: string;
  dataUri: string;
  config: PipelineConfig;
}

export interface Decision {
  kind: 'approved' | 'rejected' | 'timed-out';
  by: string;
  note?: string;
  at: string;
}

/** A signal that was received but not acted upon, kept so a reviewer can see why. */
export interface IgnoredSignal {
  name: string;
  reason: string;
  at: string;
}

export interface ModelMetrics {
  auc: number;
  logLoss: number;
  count: number;
}

export interface PipelineStatus {
  modelName: string;
  stage: PipelineStage;
  candidateVersion?: string;
  candidateMetrics?: ModelMetrics;
  productionVersion?: string;
  productionMetrics?: ModelMetrics;
  decision?: Decision;
  ignoredSignals: IgnoredSignal[];
  rollout?: RolloutStatus;
  message?: string;
}

export interface PipelineResult {
  modelName: string;
  version: string;
  outcome: 'production' | 'rejected';
  metrics: ModelMetrics;
  decision?: Decision;
}

/** Input of the `canaryRollout` child workflow. */
export interface RolloutInput {
  modelName: string;
  candidateVersion: string;
  candidateModelUri: string;
  stableVersion?: string;
  stableModelUri?: string;
  rollout: PipelineConfig['rollout'];
}

export interface CanaryComparison {
  step: number;
  weight: number;
  stable: { requests: number; errors: number; errorRate: number };
  canary: { requests: number; errors: number; errorRate: number };
  verdict: 'pass' | 'fail' | 'insufficient-traffic';
  reason: string;
}

export interface RolloutStatus {
  phase: 'shifting' | 'baking' | 'promoted' | 'rolled-back';
  step: number;
  weight: number;
  comparisons: CanaryComparison[];
}

export interface RolloutResult {
  outcome: 'promoted';
  comparisons: CanaryComparison[];
}
