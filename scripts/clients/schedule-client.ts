/** Client-side operations on retraining schedules (Temporal Schedules), shared by the CLI and tests. */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleHandle,
} from '@temporalio/client';
import { buildPipelineInput, pipelineStaticDetails } from './pipeline-client';
import { ML_MODEL, ML_STAGE, PIPELINE_WORKFLOW_TYPE, type PipelineInput } from '../../contracts/temporal';

/** Every retraining schedule's id starts with this; one schedule per model. */
export const SCHEDULE_ID_PREFIX = 'mlops-retrain-';
/** Monthly: 03:00 UTC on the 1st. */
export const DEFAULT_RETRAIN_CRON = '0 3 1 * *';
/**
 * Never two pipelines of one model at once: while a scheduled (or triggered) pipeline still runs,
 * at most one more start waits and begins when it ends (BUFFER_ONE). A pipeline can wait days for
 * approval; SKIP would silently drop that month's retraining, BUFFER_ONE keeps it, and never more
 * than one, so a stuck pipeline cannot pile up a backlog.
 */
export const RETRAIN_OVERLAP_POLICY = ScheduleOverlapPolicy.BUFFER_ONE;

/** What the schedule's action memo keeps for `mlops schedule list` (the spec description loses the cron text). */
export interface RetrainScheduleMemo {
  model: string;
  dataUri: string;
  cron: string;
}

export function retrainScheduleId(modelName: string): string {
  return `${SCHEDULE_ID_PREFIX}${modelName}`;
}

export interface CreateRetrainScheduleOptions {
  modelName: string;
  dataUri: string;
  cron?: string;
  /** Validated here against the pipeline configuration schema (a PipelineConfigInput). */
  config?: unknown;
  approvalRequired?: boolean;
  /** The control task queue the pipelines start on. */
  taskQueue: string;
  /** As in startPipeline: the GPU workers' queue, unless the configuration names one. */
  gpuTaskQueue?: string;
  /** Update the model's existing schedule in place instead of failing. */
  replace?: boolean;
}

/** Why a schedule cannot be created, in words a person can act on. */
export class ScheduleCreateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ScheduleCreateError';
  }
}

/**
 * Creates the model's retraining schedule (id `mlops-retrain-<model>`): each run starts a
 * `modelPipeline` with the input `startPipeline` would build, tagged with MlModel.
 */
export async function createRetrainSchedule(
  client: Client,
  options: CreateRetrainScheduleOptions,
): Promise<ScheduleHandle> {
  const input = buildPipelineInput(options);
  const cron = (options.cron ?? DEFAULT_RETRAIN_CRON).trim();
  if (!cron) throw new ScheduleCreateError('invalid cron expression: it is empty');
  const scheduleId = retrainScheduleId(options.modelName);
  const memo: RetrainScheduleMemo = { model: options.modelName, dataUri: options.dataUri, cron };
  const schedule = {
    spec: { cronExpressions: [cron] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: PIPELINE_WORKFLOW_TYPE,
      taskQueue: options.taskQueue,
      // Temporal appends the scheduled time to it, so every run has its own id.
      workflowId: `pipeline-${options.modelName}-scheduled`,
      args: [input],
      // On the action (not the schedule), so `--replace` can update it with everything else.
      memo: { retrainSchedule: { ...memo } },
      typedSearchAttributes: [
        { key: ML_MODEL, value: options.modelName },
        { key: ML_STAGE, value: 'ingest' },
      ],
      staticSummary: `Scheduled retraining of ${options.modelName} on ${options.dataUri} (${scheduleId}), then ${input.config.approval.required ? 'wait for approval and ' : ''}roll out by canary`,
      staticDetails: pipelineStaticDetails(input),
    },
    policies: { overlap: RETRAIN_OVERLAP_POLICY },
  };
  try {
    try {
      return await client.schedule.create({
        scheduleId,
        ...schedule,
        typedSearchAttributes: [{ key: ML_MODEL, value: options.modelName }],
      });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      if (!options.replace)
        throw new ScheduleCreateError(
          `a retraining schedule for ${options.modelName} already exists (${scheduleId}); ` +
            `delete it first with: mlops schedule delete --model ${options.modelName} (or pass --replace)`,
          { cause: err },
        );
      // One atomic update: a refused spec leaves the old schedule as it was.
      const handle = client.schedule.getHandle(scheduleId);
      await handle.update((previous) => ({ ...schedule, state: { paused: previous.state.paused } }));
      return handle;
    }
  } catch (err) {
    // The client turns the server's "Invalid schedule spec" into a TypeError carrying its reason.
    if (err instanceof TypeError)
      throw new ScheduleCreateError(`invalid cron expression '${cron}': ${err.message}`, { cause: err });
    throw err;
  }
}

/** Deletes the model's schedule; pipelines it already started keep running. Returns false if none existed and missingOk. */
export async function deleteRetrainSchedule(
  client: Client,
  modelName: string,
  { missingOk = false } = {},
): Promise<boolean> {
  const scheduleId = retrainScheduleId(modelName);
  try {
    await client.schedule.getHandle(scheduleId).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      if (missingOk) return false;
      throw new Error(`no retraining schedule for ${modelName} (${scheduleId})`, { cause: err });
    }
    throw err;
  }
}

export interface RetrainScheduleInfo {
  scheduleId: string;
  model: string;
  dataUri: string;
  cron: string;
  paused: boolean;
  nextRuns: Date[];
  /** The latest action (scheduled or triggered): when, and the workflow it started. */
  lastRun?: { at: Date; workflowId: string };
  overlap: ScheduleOverlapPolicy;
}

/**
 * The retraining schedules, described one by one (listing alone is eventually consistent and
 * carries neither the action's input nor next run times); one deleted meanwhile is left out.
 */
export async function listRetrainSchedules(client: Client): Promise<RetrainScheduleInfo[]> {
  const ids: string[] = [];
  for await (const summary of client.schedule.list()) {
    if (summary.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) ids.push(summary.scheduleId);
  }
  const infos: RetrainScheduleInfo[] = [];
  for (const scheduleId of ids.sort()) {
    let description;
    try {
      description = await client.schedule.getHandle(scheduleId).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) continue;
      throw err;
    }
    const memo = (description.action.memo?.retrainSchedule ?? {}) as Partial<RetrainScheduleMemo>;
    const input = description.action.args?.[0] as Partial<PipelineInput> | undefined;
    const last = description.info.recentActions.at(-1);
    infos.push({
      scheduleId,
      model: memo.model ?? input?.modelName ?? scheduleId.slice(SCHEDULE_ID_PREFIX.length),
      dataUri: memo.dataUri ?? input?.dataUri ?? '?',
      cron: memo.cron ?? '?',
      paused: description.state.paused,
      nextRuns: description.info.nextActionTimes,
      ...(last ? { lastRun: { at: last.takenAt, workflowId: last.action.workflow.workflowId } } : {}),
      overlap: description.policies.overlap,
    });
  }
  return infos;
}
