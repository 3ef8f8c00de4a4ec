/** Client-side operations on pipelines, shared by the CLI, the demo and tests. */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import {
  pipelineConfigSchema,
  type PipelineConfig,
  type PipelineConfigInput,
} from '../../contracts/pipeline-config';
import {
  CANARY_WORKFLOW_TYPE,
  decideUpdate,
  deploymentWorkflowId,
  ML_MODEL,
  ML_MODEL_VERSION,
  ML_STAGE,
  PIPELINE_WORKFLOW_TYPE,
  ROLLBACK_WORKFLOW_TYPE,
  type DecidePayload,
  type DecideResult,
  type RollbackInput,
  type PipelineInput,
  type PipelineResult,
  type PipelineStatus,
  rolloutStatusQuery,
  statusQuery,
} from '../../contracts/temporal';

export interface StartPipelineOptions {
  modelName: string;
  dataUri: string;
  /** The feature spec in the store (see uploadFeatureSpec). */
  featureSpecUri?: string;
  /** Validated here against the pipeline configuration schema (a PipelineConfigInput). */
  config?: unknown;
  approvalRequired?: boolean;
  taskQueue: string;
  /**
   * Where the GPU workers poll (their MLOPS_GPU_QUEUE), used unless the configuration sets
   * `taskQueues.gpu` itself; without either, training goes to the schema's default queue.
   */
  gpuTaskQueue?: string;
  workflowId?: string;
}

/** Validates a pipeline configuration (a PipelineConfigInput), throwing one error that lists every problem. */
export function parsePipelineConfig(config: unknown): PipelineConfig {
  const parsed = pipelineConfigSchema.safeParse(config ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    throw new Error(`Invalid pipeline configuration:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

/**
 * Validates a configuration and fills in the GPU task queue: one the configuration names wins,
 * then `gpuTaskQueue`, then the schema default. Decided on the raw input, because once parsed
 * every configuration names a queue.
 */
export function resolvePipelineConfig(
  config: unknown,
  { gpuTaskQueue }: { gpuTaskQueue?: string | undefined } = {},
): PipelineConfig {
  const parsed = parsePipelineConfig(config);
  const setsGpuQueue = (config as PipelineConfigInput | null | undefined)?.taskQueues?.gpu !== undefined;
  if (gpuTaskQueue && !setsGpuQueue) parsed.taskQueues.gpu = gpuTaskQueue;
  return parsed;
}

/** The input of a `modelPipeline`, from a configuration validated here: what both starts and schedules send. */
export function buildPipelineInput(options: {
  modelName: string;
  dataUri: string;
  featureSpecUri?: string;
  config?: unknown;
  approvalRequired?: boolean;
  gpuTaskQueue?: string;
}): PipelineInput {
  const config = resolvePipelineConfig(options.config, { gpuTaskQueue: options.gpuTaskQueue });
  if (options.approvalRequired === false) config.approval.required = false;
  return {
    modelName: options.modelName,
    dataUri: options.dataUri,
    ...(options.featureSpecUri ? { featureSpecUri: options.featureSpecUri } : {}),
    config,
  };
}

/** Validates the configuration and starts a `modelPipeline` workflow; returns its handle. */
export async function startPipeline(client: Client, options: StartPipelineOptions): Promise<WorkflowHandle> {
  const input = buildPipelineInput(options);
  const { config } = input;
  const workflowId =
    options.workflowId ?? `pipeline-${options.modelName}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  return client.workflow.start(PIPELINE_WORKFLOW_TYPE, {
    taskQueue: options.taskQueue,
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: ML_MODEL, value: options.modelName },
      { key: ML_STAGE, value: 'ingest' },
    ],
    staticSummary: `Train ${options.modelName} on ${options.dataUri}, then ${config.approval.required ? 'wait for approval and ' : ''}roll out by canary`,
    staticDetails: pipelineStaticDetails(input),
  });
}

/** The fixed description the Web UI shows for a pipeline: what it will do and what it waits for. */
export function pipelineStaticDetails({ modelName, dataUri, config, featureSpecUri }: PipelineInput): string {
  const { approval, rollout, train, evaluate } = config;
  return [
    `**modelPipeline** for \`${modelName}\` on \`${dataUri}\``,
    '',
    featureSpecUri
      ? `- features: \`${featureSpecUri}\``
      : "- features: the production version's spec, else inferred from the data",
    `- train: ${train.epochs} epochs, batch ${train.batchSize}, image ${config.data.imageSize}px, on task queue \`${config.taskQueues.gpu}\``,
    `- bless: AUC ≥ ${evaluate.minAuc}, at most ${evaluate.maxAucDropVsProduction} below production; ` +
      `log loss at most ${evaluate.maxLogLossIncreaseVsProduction} and ECE at most ${evaluate.maxEceIncreaseVsProduction} above it`,
    approval.required
      ? `- approval: signal \`approve\` / \`reject\` within ${approval.timeoutHours}h, else ${approval.timeoutOutcome === 'approve' ? 'approved' : 'rejected'}` +
        (approval.beforeFullTraffic ? '; a second approval before 100% of traffic' : '')
      : '- approval: not required',
    `- canary: ${rollout.steps.map((step) => `${step.weight}%`).join(' → ')}, analysed every ${rollout.analysisIntervalSeconds}s`,
  ].join('\n');
}

/** Why a `decide` Update was refused, in the workflow's words. */
export class DecisionRefusedError extends Error {
  constructor(
    readonly workflowId: string,
    reason: string,
  ) {
    super(`${workflowId} refused the decision: ${reason}`);
    this.name = 'DecisionRefusedError';
  }
}

/**
 * Approves or rejects through the `decide` Update: the workflow validates first, so a decision
 * that cannot apply (nothing waiting, already decided, another version) is refused with the reason.
 */
export async function decidePipeline(
  client: Client,
  workflowId: string,
  payload: DecidePayload,
): Promise<DecideResult> {
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate(decideUpdate, { args: [payload] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      throw new DecisionRefusedError(workflowId, cause instanceof Error ? cause.message : err.message);
    }
    throw err;
  }
}

export interface StartRollbackOptions {
  modelName: string;
  toVersion?: string;
  by: string;
  reason?: string;
  taskQueue: string;
}

/** Starts a `modelRollback` under the model's deployment id; refuses, naming it, while another deployment runs. */
export async function startRollback(client: Client, options: StartRollbackOptions): Promise<WorkflowHandle> {
  const workflowId = deploymentWorkflowId(options.modelName);
  const input: RollbackInput = {
    modelName: options.modelName,
    by: options.by,
    ...(options.toVersion ? { toVersion: options.toVersion } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
  };
  try {
    return await client.workflow.start(ROLLBACK_WORKFLOW_TYPE, {
      taskQueue: options.taskQueue,
      workflowId,
      args: [input],
      typedSearchAttributes: [
        { key: ML_MODEL, value: options.modelName },
        { key: ML_STAGE, value: 'rollback' },
      ],
      staticSummary: `Roll ${options.modelName} back to ${options.toVersion ? `v${options.toVersion}` : 'the previous production version'} (by ${options.by})`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const running = await client.workflow.getHandle(workflowId).describe();
    const howToStop =
      running.type === CANARY_WORKFLOW_TYPE
        ? `; wait for it, or stop it first with: mlops rollout abort ${workflowId}`
        : '; wait for it to finish';
    throw new Error(
      `another deployment of ${options.modelName} is running (${running.type} ${workflowId})${howToStop}`,
      { cause: err },
    );
  }
}

/** How long a status query may wait for a worker to answer before the server's view is shown instead. */
export const STATUS_QUERY_TIMEOUT_MS = 10_000;

/** The pipeline's status, with its canary child's progress while a rollout runs. */
export async function queryPipelineStatus(
  client: Client,
  workflowId: string,
  { timeoutMs = STATUS_QUERY_TIMEOUT_MS } = {},
): Promise<PipelineStatus> {
  const status = await queryWithin(client, workflowId, timeoutMs, (handle) => handle.query(statusQuery));
  if (status.stage !== 'canary' || !status.rolloutWorkflowId) return status;
  try {
    const rollout = await queryWithin(client, status.rolloutWorkflowId, timeoutMs, (handle) =>
      handle.query(rolloutStatusQuery),
    );
    return { ...status, rollout };
  } catch {
    return status; // the child has not started yet, or cannot answer
  }
}

/**
 * A query answered within `timeoutMs`. Only a worker can answer one, so with no worker able to run the
 * workflow (none running, or, with worker versioning, none of the build it is pinned to) the server
 * would hold the call for a minute; instead this fails at once with what the server knows and what to do.
 */
export async function queryWithin<T>(
  client: Client,
  workflowId: string,
  timeoutMs: number,
  query: (handle: WorkflowHandle) => Promise<T>,
): Promise<T> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await client.connection.withDeadline(Date.now() + timeoutMs, () => query(handle));
  } catch (err) {
    if (!isDeadlineExceeded(err)) throw err;
    throw new Error(await unansweredQueryMessage(handle, timeoutMs), { cause: err });
  }
}

/** gRPC's status code for a call that ran out of time. */
const GRPC_DEADLINE_EXCEEDED = 4;

function isDeadlineExceeded(err: unknown): boolean {
  for (let cause: unknown = err; cause; cause = (cause as { cause?: unknown }).cause) {
    if ((cause as { code?: unknown }).code === GRPC_DEADLINE_EXCEEDED) return true;
    if (!(cause instanceof Error)) break;
  }
  return false;
}

async function unansweredQueryMessage(handle: WorkflowHandle, timeoutMs: number): Promise<string> {
  const description = await handle.describe();
  const stage = description.typedSearchAttributes.get(ML_STAGE);
  const version = description.typedSearchAttributes.get(ML_MODEL_VERSION);
  const versioning = description.raw.workflowExecutionInfo?.versioningInfo;
  const pinned =
    versioning?.behavior === temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED
      ? versioning.deploymentVersion
      : undefined;
  const build = pinned?.buildId ? `${pinned.deploymentName}:${pinned.buildId}` : undefined;
  const lines = [
    `${handle.workflowId} did not answer its query within ${timeoutMs / 1000} s: no worker that can run it is polling ${description.taskQueue}.`,
    `From the server: ${description.status.name.toLowerCase()}${stage ? `, stage ${stage}` : ''}${version ? `, v${version}` : ''}, started ${description.startTime.toISOString()}.`,
    build
      ? `It is pinned to build ${build}: start that build's workers (MLOPS_WORKER_BUILD_ID=${pinned?.buildId}), or move it to the current build with ` +
        `\`temporal workflow update-options --workflow-id ${handle.workflowId} --versioning-override-behavior auto_upgrade\` (only if the current code can replay it).`
      : 'Start a control worker (`mlops dev`, or workers/control-worker.ts) for its task queue.',
  ];
  return lines.join('\n');
}

/** Waits, polling the status query, until a pipeline reaches a stage (or ends). */
export async function waitForStage(
  client: Client,
  workflowId: string,
  stages: PipelineStatus['stage'][],
  { timeoutMs = 600_000, pollMs = 500 } = {},
): Promise<PipelineStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await queryPipelineStatus(client, workflowId);
    if (stages.includes(status.stage)) return status;
    if (status.stage === 'failed')
      throw new Error(`pipeline ${workflowId} failed: ${status.message ?? 'unknown reason'}`);
    if (Date.now() > deadline)
      throw new Error(
        `pipeline ${workflowId} did not reach ${stages.join('/')} in time (at ${status.stage})`,
      );
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export type { PipelineResult };
