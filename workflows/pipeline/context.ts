/**
 * What every step of a modelPipeline run works with: its input, its live status (the `status`
 * query's answer) and its activity proxies. Workflow-safe.
 */
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { ControlActivities, GpuActivities } from '../../activities/index';
import type { PipelineConfig } from '../../contracts/pipeline-config';
import { withSummaries } from '../activity-summaries';
import {
  ML_MODEL,
  ML_STAGE,
  type PipelineInput,
  type PipelineStage,
  type PipelineStatus,
} from '../../contracts/temporal';

/** Registry, validation and deployment activities on the control queue. */
export const control = withSummaries(
  proxyActivities<ControlActivities>({
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '2 minutes',
    retry: { maximumAttempts: 5, initialInterval: '1 second' },
  }),
);

/** The activity proxies of one pipeline run; the GPU ones depend on its configuration. */
export interface PipelineActivities {
  control: typeof control;
  /** Ingest planning and shards: planning streams every CSV once; shards are bounded by data.shardRows. */
  ingester: ControlActivities;
  /** Training, with its own heartbeat timeout. */
  trainer: GpuActivities;
  /** Evaluation. */
  gpu: GpuActivities;
}

/** Builds the run's activity proxies from its configuration. */
export function createPipelineActivities(config: PipelineConfig): PipelineActivities {
  const gpu = withSummaries(
    proxyActivities<GpuActivities>({
      taskQueue: config.taskQueues.gpu,
      startToCloseTimeout: '12 hours',
      heartbeatTimeout: '2 minutes',
      retry: { maximumAttempts: 5, initialInterval: '5 seconds' },
    }),
  );
  // Training heartbeats every few seconds from outside TensorFlow, so a dead GPU worker is noticed
  // (and training resumes elsewhere from its checkpoint) after this, not after minutes.
  // `??` keeps pipelines started before the setting existed on the old timeout.
  const trainer = withSummaries(
    proxyActivities<GpuActivities>({
      taskQueue: config.taskQueues.gpu,
      startToCloseTimeout: '12 hours',
      heartbeatTimeout: `${config.train.heartbeatTimeoutSeconds ?? 120} seconds`,
      retry: { maximumAttempts: 5, initialInterval: '5 seconds' },
    }),
  );
  const ingester = withSummaries(
    proxyActivities<ControlActivities>({
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: '2 minutes',
      retry: { maximumAttempts: 5, initialInterval: '1 second' },
    }),
  );
  return { control, ingester, trainer, gpu };
}

/** The run's status object and the two ways handlers and stages change it besides plain fields. */
export interface StatusTracker {
  /** The object the `status` query returns, mutated in place. */
  status: PipelineStatus;
  /** Moves to a stage and writes it (and the model) to the search attributes. */
  enterStage: (stage: PipelineStage, message?: string) => void;
  /** Keeps a signal that was received but not acted upon, with why, for the reviewer. */
  ignoreSignal: (name: string, reason: string) => void;
}

/** A fresh status for a run of `modelName`, in stage `ingest`. */
export function createStatusTracker(modelName: string): StatusTracker {
  const status: PipelineStatus = { modelName, stage: 'ingest', ignoredSignals: [] };
  return {
    status,
    enterStage: (stage, message) => {
      status.stage = stage;
      status.message = message;
      upsertSearchAttributes([
        { key: ML_MODEL, value: modelName },
        { key: ML_STAGE, value: stage },
      ]);
    },
    ignoreSignal: (name, reason) => {
      status.ignoredSignals.push({ name, reason, at: new Date().toISOString() });
    },
  };
}

/** Everything a step of the run needs. */
export interface PipelineContext {
  input: PipelineInput;
  tracker: StatusTracker;
  activities: PipelineActivities;
}

/** What happens to a candidate nobody decides on in time. */
export function timeoutDecisionKind(config: PipelineConfig): 'approved' | 'rejected' {
  return config.approval.timeoutOutcome === 'approve' ? 'approved' : 'rejected';
}

/** Why a monitor-started run expects its data to have moved, or undefined for other runs. */
export function expectedShiftReason({ trigger }: PipelineInput): string | undefined {
  return trigger?.expectShift
    ? `retraining for a data shift, started by ${trigger.monitorWorkflowId}`
    : undefined;
}
