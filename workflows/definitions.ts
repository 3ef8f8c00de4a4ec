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

/** The canary child's workflow id, derived from its pipeline's so clients can find it. */
export function canaryWorkflowId(pipelineWorkflowId: string): string {
  return `${pipelineWorkflowId}-canary`;
}

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
/** Manual control of a running canary: who asks, and why. */
export interface RolloutCommandPayload {
  by: string;
  reason?: string;
}
export const pauseRolloutSignal = defineSignal<[RolloutCommandPayload]>('pause');
export const resumeRolloutSignal = defineSignal<[RolloutCommandPayload]>('resume');
export const promoteRolloutSignal = defineSignal<[RolloutCommandPayload]>('promote');
export const abortRolloutSignal = defineSignal<[RolloutCommandPayload]>('abort');
export const ROLLOUT_COMMANDS = ['pause', 'resume', 'promote', 'abort'] as const;
export type RolloutCommand = (typeof ROLLOUT_COMMANDS)[number];

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

/** What one version did during a rollout step's window. */
export interface VersionWindowSummary {
  requests: number;
  errors: number;
  errorRate: number;
  p99LatencyMs?: number;
  feedback: number;
  onlineLogLoss?: number;
}

/** One metric compared between canary and stable. */
export interface MetricCheck {
  metric: 'error rate' | 'p99 latency' | 'score distribution' | 'online log loss';
  verdict: 'pass' | 'fail' | 'not enough data';
  detail: string;
}

export interface CanaryComparison {
  step: number;
  weight: number;
  stable: VersionWindowSummary;
  canary: VersionWindowSummary;
  /** Jensen-Shannon divergence between canary and stable score distributions, when both have samples. */
  scoreDivergence?: number;
  checks: MetricCheck[];
  verdict: 'pass' | 'fail' | 'insufficient-traffic';
  reason: string;
}

export interface RolloutStatus {
  phase: 'shifting' | 'baking' | 'paused' | 'promoted' | 'rolled-back' | 'aborted';
  step: number;
  weight: number;
  /** The latest comparison of the step in progress, refreshed at every analysis. */
  live?: CanaryComparison;
  /** The final comparison of each finished step. */
  comparisons: CanaryComparison[];
  /** Manual commands received, in order, including refused ones. */
  commands: Array<{ command: RolloutCommand; by: string; reason?: string; at: string; outcome: string }>;
}

export interface RolloutResult {
  outcome: 'promoted';
  comparisons: CanaryComparison[];
  /** Who skipped the remaining steps with the `promote` signal, if anyone. */
  promotedBy?: string;
}
