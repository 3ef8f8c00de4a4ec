/**
 * The pipeline's stages up to a registered candidate: ingest, validate, train, evaluate, register.
 * Each enters its stage, runs its activities and records what the reviewer sees. Workflow-safe.
 */
import { ApplicationFailure, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ControlActivities, GpuActivities } from '../../activities/index';
import type { ShardedIngestResult } from '../../contracts/ingest';
import { ML_MODEL_VERSION } from '../../contracts/temporal';
import { ingestInShards } from '../ingest-fanout';
import { expectedShiftReason, type PipelineContext } from './context';
import { supersedeOlderCandidates } from './supersession';
import { FAILURE } from '../../contracts/failures';

/** Results of the stages' activities, as the later steps use them. */
export type ValidationResult = Awaited<ReturnType<ControlActivities['validateDataset']>>;
export type TrainResult = Awaited<ReturnType<GpuActivities['trainModel']>>;
export type EvaluationResult = Awaited<ReturnType<GpuActivities['evaluateModel']>>;
export type ProductionVersion = Awaited<ReturnType<ControlActivities['getProductionVersion']>>;
export type RegisterResult = Awaited<ReturnType<ControlActivities['registerModelVersion']>>;

/** Stage `ingest`: the data in shards, progress in the status message. */
export async function ingestData(ctx: PipelineContext): Promise<ShardedIngestResult> {
  const { input, tracker, activities } = ctx;
  const { config } = input;
  tracker.enterStage('ingest');
  // Planned once, then shard activities in parallel (bounded); shards already ingested from
  // the same bytes, by any run, are reused.
  const ingest = await ingestInShards(
    activities.ingester,
    {
      dataUri: input.dataUri,
      imageSize: config.data.imageSize,
      evalFraction: config.data.evalFraction,
      shardRows: config.data.shardRows,
      imageConcurrency: config.data.imageConcurrency,
      // Which spec the data is read by: the given one, else production's, else inferred (ingest says which).
      modelName: input.modelName,
      ...(input.featureSpecUri ? { featureSpecUri: input.featureSpecUri } : {}),
    },
    {
      concurrency: config.data.ingestConcurrency,
      onProgress: ({ shardsDone, shardCount, reusedShards }) => {
        tracker.status.message = `${shardsDone}/${shardCount} shards ingested${reusedShards ? ` (${reusedShards} reused)` : ''}`;
      },
    },
  );
  if (ingest.featureSpecUri && ingest.featureSpecSource) {
    tracker.status.features = { uri: ingest.featureSpecUri, source: ingest.featureSpecSource };
  }
  return ingest;
}

/** Stage `validate`: the data checked against the schema and against production's training data. */
export async function validateData(
  ctx: PipelineContext,
  ingest: ShardedIngestResult,
): Promise<{ production: ProductionVersion; validation: ValidationResult; reviewWarnings: string[] }> {
  const { input, tracker, activities } = ctx;
  const { modelName, config, trigger } = input;
  const shiftReason = expectedShiftReason(input);
  tracker.enterStage('validate');
  // Production first: drift is measured against the data the production model was trained on.
  const production = await activities.control.getProductionVersion({ model: modelName });
  const validation = await activities.control.validateDataset({
    ingest,
    maxBadRowFraction: config.data.maxBadRowFraction,
    minRows: config.data.minRows,
    modelName,
    ...(config.data.validation ? { validation: config.data.validation } : {}),
    ...(production?.statisticsUri ? { baselineStatisticsUri: production.statisticsUri } : {}),
    ...(shiftReason ? { expectedShift: { reason: shiftReason } } : {}),
  });
  // What the reviewer reads first: why the run exists and how the schema would change.
  const reviewWarnings = [
    ...(trigger
      ? [`started by the production monitor (${trigger.monitorWorkflowId}): ${trigger.reasons.join('; ')}`]
      : []),
    ...(validation.schemaChanges?.length
      ? [
          `the data schema widens when this version reaches production: ${validation.schemaChanges.join('; ')}`,
        ]
      : []),
    ...validation.warnings,
  ];
  return { production, validation, reviewWarnings };
}

/** Stage `train`: a candidate model on the GPU queue. */
export async function trainCandidate(
  ctx: PipelineContext,
  ingest: ShardedIngestResult,
): Promise<TrainResult> {
  ctx.tracker.enterStage('train');
  return await ctx.activities.trainer.trainModel({
    trainUris: ingest.trainUris,
    imageSize: ingest.imageSize,
    train: ctx.input.config.train,
  });
}

/** Stage `evaluate`: the candidate scored beside production; a candidate that is not blessed ends the run. */
export async function evaluateCandidate(
  ctx: PipelineContext,
  {
    ingest,
    trained,
    production,
  }: { ingest: ShardedIngestResult; trained: TrainResult; production: ProductionVersion },
): Promise<EvaluationResult> {
  const { input, tracker, activities } = ctx;
  const { modelName, config } = input;
  const { status } = tracker;
  tracker.enterStage('evaluate');
  const evaluation = await activities.gpu.evaluateModel({
    modelName,
    dataUri: input.dataUri,
    candidateModelUri: trained.modelUri,
    evalUri: ingest.evalUri,
    evalUris: ingest.evalUris,
    ...(production ? { production: { version: production.version, modelUri: production.modelUri } } : {}),
    thresholds: config.evaluate,
  });
  status.candidateMetrics = evaluation.candidate;
  if (evaluation.featureSpec) status.featureSpecComparison = evaluation.featureSpec;
  if (evaluation.production) {
    status.productionVersion = evaluation.production.version;
    status.productionMetrics = evaluation.production;
  }
  if (!evaluation.blessed) {
    throw ApplicationFailure.create({
      nonRetryable: true,
      type: FAILURE.ModelNotBlessed,
      message: `Candidate for ${modelName} was not blessed: ${evaluation.failures.join('; ')}`,
      details: [{ failedThresholds: evaluation.failedThresholds ?? [] }],
    });
  }
  return evaluation;
}

/** What registering produced: the candidate's version and the registry's answer. */
export interface RegisteredCandidate {
  version: string;
  registered: RegisterResult;
}

/** Stage `register`: a new version with its lineage; older candidates still waiting are superseded. */
export async function registerCandidate(
  ctx: PipelineContext,
  {
    ingest,
    validation,
    trained,
    evaluation,
  }: {
    ingest: ShardedIngestResult;
    validation: ValidationResult;
    trained: TrainResult;
    evaluation: EvaluationResult;
  },
): Promise<RegisteredCandidate> {
  const { input, tracker, activities } = ctx;
  const { modelName, dataUri, config, trigger } = input;
  tracker.enterStage('register');
  const { workflowId, runId, workflowType } = workflowInfo();
  const { failures: _failures, failedThresholds: _failed, ...evaluationSummary } = evaluation;
  const registered = await activities.control.registerModelVersion({
    model: modelName,
    modelUri: trained.modelUri,
    metrics: evaluationSummary,
    lineage: {
      data: {
        uri: dataUri,
        trainUri: ingest.trainUri,
        evalUri: ingest.evalUri,
        fingerprint: ingest.fingerprint,
        schemaVersion: ingest.schemaVersion,
        ...(ingest.featureSpecUri
          ? { featureSpecUri: ingest.featureSpecUri, featureSpecSource: ingest.featureSpecSource }
          : {}),
        trainRows: ingest.trainRows,
        evalRows: ingest.evalRows,
        planUri: ingest.planUri,
        shardCount: ingest.shardCount,
        statisticsUri: validation.statisticsUri,
        warnings: validation.warnings,
        ...(validation.schemaChanges?.length ? { schemaChanges: validation.schemaChanges } : {}),
      },
      config,
      training: {
        backend: trained.backend,
        device: trained.device,
        epochs: trained.epochs,
        finalLoss: trained.finalLoss,
      },
      run: { workflowId, runId, workflowType },
      ...(trigger
        ? { trigger: { by: trigger.by, workflowId: trigger.monitorWorkflowId, reasons: trigger.reasons } }
        : {}),
    },
  });
  const version = registered.version;
  tracker.status.candidateVersion = version;
  upsertSearchAttributes([{ key: ML_MODEL_VERSION, value: version }]);
  await supersedeOlderCandidates(registered.olderCandidates, { version, workflowId });
  return { version, registered };
}
