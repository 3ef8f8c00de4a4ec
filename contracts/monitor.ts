/**
 * Names and types of the `modelMonitor` workflow, shared by the workflow, its activities, the client
 * and tests. Workflow-safe: types and `@temporalio/workflow` definitions only.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DriftOptions, FeatureDrift } from './drift';
import type { PipelineInput } from './temporal';

/** Workflow type of the production monitor. */
export const MONITOR_WORKFLOW_TYPE = 'modelMonitor';

/** The one monitor of a model runs under this id, so a model never has two. */
export function monitorWorkflowId(modelName: string): string {
  return `mlops-monitor-${modelName}`;
}

/**
 * The retraining a monitor starts for a production version: one id per version, so repeated triggers
 * while that version serves never start a second pipeline. Only a failed one is started again, after
 * `retrainRetryAfterSeconds`; one that completed (deployed, rejected, superseded) is not repeated.
 */
export function retrainWorkflowId(modelName: string, productionVersion: string): string {
  return `mlops-monitor-retrain-${modelName}-v${productionVersion}`;
}

/** Which log parts of one stream were read: hours before `hour` entirely, later ones by name. */
export interface LogCursor {
  /** `yyyy-mm-dd/hh` (UTC); '' reads from the start. */
  hour: string;
  /** Part paths relative to the stream folder, within hours ≥ `hour`. */
  seen: string[];
}

export interface MonitorThresholds {
  /** Live log loss above this decays quality. */
  maxLogLoss?: number;
  /** Live AUC below this decays quality. */
  minAuc?: number;
  /** Fewer new labels than this: quality is not measured (they accumulate to the next interval). */
  minLabels: number;
}

/** Input of `modelMonitor`: one object, and `state` carried across continue-as-new. */
export interface MonitorInput {
  modelName: string;
  intervalSeconds: number;
  action: 'retrain' | 'alert';
  thresholds: MonitorThresholds;
  /** Drift thresholds on the logged inputs (critical level triggers). */
  drift: DriftOptions;
  /** With action 'retrain': the modelPipeline input (data URI and configuration) started on a trigger. */
  retrain?: PipelineInput;
  /**
   * The retraining expects its data to have moved (PipelineTrigger.expectShift): drift and new values
   * are warnings there, and the schema widens when it reaches production. Absent: true.
   */
  retrainExpectsDataShift?: boolean;
  /** A failed retraining of the same production version is started again after this long. Absent: a day. */
  retrainRetryAfterSeconds?: number;
  /** Continue-as-new after this many iterations even if Temporal does not suggest it. */
  maxIterationsPerRun?: number;
  state?: MonitorState;
}

export interface MonitorTrigger {
  kind: 'log-loss' | 'auc' | 'drift';
  message: string;
}

/** One measurement, as recorded in monitoring/<model>/measurements/ and shown by the status query. */
export interface MonitorMeasurement {
  at: string;
  modelName: string;
  iteration: number;
  productionVersion?: string;
  predictionsCursor: LogCursor;
  feedbackCursor: LogCursor;
  /** New predictions of the production version read this time. */
  predictions: number;
  /** New labels of the production version read this time. */
  labels: number;
  logLoss?: number;
  auc?: number;
  drift?: FeatureDrift[];
  triggers: MonitorTrigger[];
  notes: string[];
}

export interface MeasureHealthInput {
  modelName: string;
  iteration: number;
  predictionsCursor: LogCursor;
  feedbackCursor: LogCursor;
  thresholds: MonitorThresholds;
  drift: DriftOptions;
}

export interface RecordAlertInput {
  modelName: string;
  iteration: number;
  at: string;
  productionVersion?: string;
  triggers: MonitorTrigger[];
}

/** What the monitor did about a trigger. */
export interface MonitorAction {
  at: string;
  kind: 'retrain-started' | 'retrain-already-started' | 'alert';
  triggers: MonitorTrigger[];
  workflowId?: string;
  alertUri?: string;
}

/** Small state carried across continue-as-new. */
export interface MonitorState {
  /** Iterations over every run. */
  iterations: number;
  predictionsCursor: LogCursor;
  feedbackCursor: LogCursor;
  /** The latest actions, newest last (a few only). */
  actions: MonitorAction[];
  /** The last retraining this monitor started or found running, so it is not asked for again every interval. */
  lastRetrain?: { workflowId: string; atMs: number };
}

export interface MonitorStatus {
  modelName: string;
  action: MonitorInput['action'];
  intervalSeconds: number;
  iterations: number;
  last?: MonitorMeasurement;
  actions: MonitorAction[];
  stopping: boolean;
}

export const monitorStatusQuery = defineQuery<MonitorStatus>('status');
/** Ends the monitor after its current iteration. */
export const stopMonitorSignal = defineSignal<[{ by?: string }?]>('stop');
