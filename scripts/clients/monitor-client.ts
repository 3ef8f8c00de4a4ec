/** Client-side operations on production monitors (`modelMonitor`), shared by the CLI and tests. */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { driftConfigSchema } from '../../contracts/pipeline-config';
import { buildPipelineInput } from './pipeline-client';
import { ML_MODEL } from '../../contracts/temporal';
import {
  MONITOR_WORKFLOW_TYPE,
  monitorStatusQuery,
  monitorWorkflowId,
  stopMonitorSignal,
  type MonitorInput,
  type MonitorStatus,
} from '../../contracts/monitor';

/** The monitor's configuration; drift thresholds default to the validate stage's. */
export const monitorConfigSchema = z.strictObject({
  intervalSeconds: z.number().int().min(1).default(300),
  action: z.enum(['retrain', 'alert']).default('alert'),
  thresholds: z
    .strictObject({
      maxLogLoss: z.number().positive().optional(),
      minAuc: z.number().min(0).max(1).optional(),
      minLabels: z.number().int().min(1).default(200),
    })
    .prefault({}),
  drift: driftConfigSchema,
  maxIterationsPerRun: z.number().int().min(1).default(500),
  /** The retraining expects moved data: drift and new values warn instead of failing validation. */
  retrainExpectsDataShift: z.boolean().default(true),
  /** A failed retraining of the same production version is retried after this many hours. */
  retrainRetryAfterHours: z.number().positive().default(24),
});
export type MonitorConfigInput = z.input<typeof monitorConfigSchema>;

export interface StartMonitorOptions {
  modelName: string;
  /** Monitor configuration (a MonitorConfigInput), validated here. */
  config?: unknown;
  /** With action 'retrain': the data the retraining pipeline trains on, and its configuration. */
  dataUri?: string;
  pipelineConfig?: unknown;
  approvalRequired?: boolean;
  taskQueue: string;
  gpuTaskQueue?: string;
}

/** Validates the options into a `modelMonitor` input, listing every problem in one error. */
export function buildMonitorInput(options: Omit<StartMonitorOptions, 'taskQueue'>): MonitorInput {
  const parsed = monitorConfigSchema.safeParse(options.config ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new Error(`Invalid monitor configuration:\n${problems.join('\n')}`);
  }
  const config = parsed.data;
  if (config.action === 'retrain' && !options.dataUri)
    throw new Error("action 'retrain' needs the data URI the retraining pipeline trains on (--data)");
  return {
    modelName: options.modelName,
    intervalSeconds: config.intervalSeconds,
    action: config.action,
    thresholds: config.thresholds,
    drift: config.drift,
    maxIterationsPerRun: config.maxIterationsPerRun,
    retrainExpectsDataShift: config.retrainExpectsDataShift,
    retrainRetryAfterSeconds: Math.round(config.retrainRetryAfterHours * 3600),
    ...(options.dataUri
      ? {
          retrain: buildPipelineInput({
            modelName: options.modelName,
            dataUri: options.dataUri,
            config: options.pipelineConfig,
            ...(options.approvalRequired !== undefined ? { approvalRequired: options.approvalRequired } : {}),
            ...(options.gpuTaskQueue ? { gpuTaskQueue: options.gpuTaskQueue } : {}),
          }),
        }
      : {}),
  };
}

/** Starts the model's monitor under `mlops-monitor-<model>`; fails if one already runs. */
export async function startMonitor(client: Client, options: StartMonitorOptions): Promise<WorkflowHandle> {
  const input = buildMonitorInput(options);
  return client.workflow.start(MONITOR_WORKFLOW_TYPE, {
    taskQueue: options.taskQueue,
    workflowId: monitorWorkflowId(options.modelName),
    args: [input],
    typedSearchAttributes: [{ key: ML_MODEL, value: options.modelName }],
    staticSummary: `Monitor ${options.modelName} in production every ${input.intervalSeconds}s; on decay: ${input.action}`,
  });
}

/** Asks the model's monitor to stop after its current iteration. */
export async function stopMonitor(client: Client, modelName: string, by: string): Promise<void> {
  await client.workflow.getHandle(monitorWorkflowId(modelName)).signal(stopMonitorSignal, { by });
}

/** The monitor's status query. */
export async function queryMonitor(client: Client, modelName: string): Promise<MonitorStatus> {
  return client.workflow.getHandle(monitorWorkflowId(modelName)).query(monitorStatusQuery);
}
