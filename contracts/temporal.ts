/**
 * Temporal names shared by workflows, workers and scripts: task queues, signals, queries and
 * search attribute keys. Workflow-safe: types and `@temporalio/workflow` definitions only.
 */
import type { FeatureSpecComparison } from './feature-spec-diff';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { PartialMetricValues } from './metric-catalog';
import type { PipelineConfig } from './pipeline-config';

/** Default task queue for workflows and light activities. */
export const CONTROL_TASK_QUEUE = 'ml-control';
/** Default task queue for training, evaluation and batch scoring. */
export const GPU_TASK_QUEUE = 'ml-gpu';

/** Workflow type names: clients, schedules and the Web UI find workflows by them, so they never change. */
export const PIPELINE_WORKFLOW_TYPE = 'modelPipeline';
export const CANARY_WORKFLOW_TYPE = 'canaryRollout';

/** Workflow type of a manual rollback (`mlops rollback`). */
export const ROLLBACK_WORKFLOW_TYPE = 'modelRollback';

/**
 * The workflow id every deployment of a model runs under: the canary child of a pipeline and a
 * manual rollback alike. Temporal allows one running workflow per id, so this id is the model's
 * deployment lock: two deployments of one model can never run at once, and a crashed holder
 * cannot leave a stale lock behind.
 */
export function deploymentWorkflowId(modelName: string): string {
  return `mlops-deploy-${modelName}`;
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
  /** The version the reviewer looked at; the decision is refused when another one is waiting. */
  version?: string;
}

/** Payload of the `reject` signal. */
export interface RejectPayload {
  by: string;
  reason?: string;
  version?: string;
}

export const approveSignal = defineSignal<[ApprovePayload]>('approve');
export const rejectSignal = defineSignal<[RejectPayload]>('reject');

/** Payload of the `decide` Update: what the CLI sends, validated before the workflow accepts it. */
export interface DecidePayload {
  decision: 'approve' | 'reject';
  by: string;
  comment?: string;
  reason?: string;
  /** The version the reviewer looked at; refused when it is not the one waiting. */
  version?: string;
}

/** The answer of an accepted `decide` Update. */
export interface DecideResult {
  gate: ApprovalGate;
  version: string;
  decision: Decision;
}

export const decideUpdate = defineUpdate<DecideResult, [DecidePayload]>('decide');

/** Sent by a newer pipeline of the same model to one whose candidate still waits for approval. */
export interface SupersedePayload {
  version: string;
  workflowId: string;
}
export const supersedeSignal = defineSignal<[SupersedePayload]>('supersede');

/** Sent by a canary child to its pipeline when its full-traffic gate opens or closes. */
export interface GateNotice {
  state: 'waiting' | 'closed';
  weight: number;
  deadline?: string;
  /** With `closed`: the decision that won at the gate (none when a regression or abort closed it). */
  decision?: Decision;
}
export const fullTrafficGateSignal = defineSignal<[GateNotice]>('fullTrafficGate');
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
  | 'superseded'
  | 'waiting-to-deploy'
  | 'canary'
  | 'production'
  | 'rolled-back'
  | 'failed';

/** Input of `modelPipeline`: one object so fields can be added without breaking running workflows. */
export interface PipelineInput {
  modelName: string;
  dataUri: string;
  config: PipelineConfig;
  /**
   * The feature spec to read the data by (`pipeline start --features`), in the store. Absent: the
   * production version's spec, else one inferred from the data; ingest records which.
   */
  featureSpecUri?: string;
  /** Set when the production monitor started the run; absent for people and schedules. */
  trigger?: PipelineTrigger;
}

/** Why the production monitor started a retraining pipeline. */
export interface PipelineTrigger {
  by: 'monitor';
  monitorWorkflowId: string;
  /** The production version whose live quality or inputs moved. */
  productionVersion: string;
  /** The monitor's findings, e.g. "hour: major drift (PSI 1.9 > 0.25)". */
  reasons: string[];
  /**
   * The data is expected to have moved: validation reports drift, out-of-range and out-of-vocabulary
   * values as warnings instead of failing, and the schema widens to the data when the model reaches
   * production (monitor configuration `retrainExpectsDataShift`).
   */
  expectShift: boolean;
}

/** The two places a person decides: the candidate before any traffic, and (optionally) before 100%. */
export type ApprovalGate = 'candidate' | 'full-traffic';

export interface Decision {
  kind: 'approved' | 'rejected';
  by: string;
  note?: string;
  at: string;
  /** Nobody decided in time; `kind` is then approval.timeoutOutcome. */
  timedOut?: boolean;
}

/** A gate open for a decision right now. */
export interface PendingApproval {
  gate: ApprovalGate;
  version: string;
  since: string;
  deadline: string;
  /** What happens at the deadline. */
  timeoutOutcome: 'approved' | 'rejected';
}

/** A signal that was received but not acted upon, kept so a reviewer can see why. */
export interface IgnoredSignal {
  name: string;
  reason: string;
  at: string;
}

/** One model's overall metrics: the catalog's (contracts/metric-catalog.ts), with AUC and log loss always present. */
export type ModelMetrics = PartialMetricValues & {
  auc: number;
  logLoss: number;
  count: number;
  /** Share of clicked examples (a property of the data, the same for every model). */
  clickRate?: number;
};

export interface PipelineStatus {
  modelName: string;
  stage: PipelineStage;
  /** The feature spec the data was read by (known once ingest planned), and where it came from. */
  features?: { uri: string; source: string };
  /** The candidate's spec against production's (known once evaluated, with a production version). */
  featureSpecComparison?: FeatureSpecComparison;
  candidateVersion?: string;
  candidateMetrics?: ModelMetrics;
  productionVersion?: string;
  productionMetrics?: ModelMetrics;
  /** The candidate gate's decision. */
  decision?: Decision;
  /** The full-traffic gate's decision, when approval.beforeFullTraffic is on. */
  fullTrafficDecision?: Decision;
  pending?: PendingApproval;
  supersededBy?: SupersedePayload;
  ignoredSignals: IgnoredSignal[];
  /** The canary child's workflow id while (and after) it runs. */
  rolloutWorkflowId?: string;
  rollout?: RolloutStatus;
  message?: string;
}

export interface PipelineResult {
  modelName: string;
  version: string;
  outcome: 'production' | 'rejected' | 'superseded';
  metrics: ModelMetrics;
  decision?: Decision;
  message?: string;
}

/** Input of the `canaryRollout` child workflow. Stable is read from the registry once the rollout holds the model's deployment lock. */
export interface RolloutInput {
  modelName: string;
  candidateVersion: string;
  candidateModelUri: string;
  rollout: PipelineConfig['rollout'];
  /** Hold before 100% until a person approves (approval.beforeFullTraffic). */
  fullTrafficGate?: { timeoutHours: number; timeoutOutcome: 'approve' | 'reject' };
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

/** The candidate against stable on the same mirrored requests, before any user is served by it. */
export interface ShadowComparison {
  stableVersion: string;
  shadowVersion: string;
  elapsedSeconds: number;
  /** Mirrored requests the shadow scored, failed, and could not take (queue full). */
  requests: number;
  errors: number;
  dropped: number;
  /** Instances both scored, and labels joined to both. */
  pairs: number;
  feedback: number;
  meanScoreShift?: number;
  meanLogLossDifference?: number;
  checks: MetricCheck[];
  verdict: 'pass' | 'fail' | 'insufficient-traffic';
  reason: string;
}

export interface RolloutStatus {
  /** `shadow`: stable serves everyone while the candidate scores copies of their requests. */
  phase:
    | 'shadow'
    | 'shifting'
    | 'baking'
    | 'paused'
    | 'awaiting-approval'
    | 'promoted'
    | 'rolled-back'
    | 'aborted';
  step: number;
  stableVersion?: string;
  /** The full-traffic gate: open while phase is awaiting-approval, then its decision. */
  gate?: { deadline: string; decision?: Decision };
  weight: number;
  /** The latest comparison of the step in progress, refreshed at every analysis. */
  live?: CanaryComparison;
  /** The final comparison of each finished step. */
  comparisons: CanaryComparison[];
  /** The shadow step's comparison: live while in shadow, then its last. */
  shadow?: ShadowComparison;
  /** Manual commands received, in order, including refused ones. */
  commands: Array<{
    command: RolloutCommand | 'approve' | 'reject';
    by: string;
    reason?: string;
    at: string;
    outcome: string;
  }>;
}

export interface RolloutResult {
  outcome: 'promoted';
  comparisons: CanaryComparison[];
  /** Who skipped the remaining steps with the `promote` signal, if anyone. */
  promotedBy?: string;
  /** The version it replaced in production, if there was one. */
  replacedVersion?: string;
  fullTrafficDecision?: Decision;
}

/** Input of `modelRollback`: put an earlier production version back, through the deployment path. */
export interface RollbackInput {
  modelName: string;
  /** Default: the `previous` alias. */
  toVersion?: string;
  by: string;
  reason?: string;
}

export interface RollbackResult {
  modelName: string;
  from?: string;
  to: string;
}
