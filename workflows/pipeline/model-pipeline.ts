/**
 * modelPipeline: ingest → validate → train → evaluate → register → approval → canary rollout.
 * Deterministic workflow code: every side effect happens in an activity.
 *
 * Concurrency rule for one model: a newly registered candidate supersedes every older candidate
 * still waiting for approval (those pipelines end cleanly, outcome `superseded`); approved
 * candidates deploy one at a time, because every deployment of a model runs under the model's
 * deployment workflow id (see deploymentWorkflowId), and a pipeline whose turn has not come
 * waits in stage `waiting-to-deploy`.
 *
 * The steps live beside this file: pipeline-stages (up to a registered candidate),
 * pipeline-approval (the candidate gate), pipeline-decisions (the Signal and Update handlers),
 * pipeline-deployment (deployment lock and canary), pipeline-supersession (newer candidates).
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  setHandler,
} from '@temporalio/workflow';
import {
  deploymentWorkflowId,
  statusQuery,
  type PipelineInput,
  type PipelineResult,
} from '../../contracts/temporal';
import { rootMessage } from '../../contracts/failures';
import { awaitCandidateDecision, recordCandidateDecision } from './approval';
import {
  createPipelineActivities,
  createStatusTracker,
  timeoutDecisionKind,
  type PipelineContext,
} from './context';
import { setDecisionHandlers, type RolloutHandle } from './decisions';
import { awaitRollout, startRolloutWhenFree } from './deployment';
import { evaluateCandidate, ingestData, registerCandidate, trainCandidate, validateData } from './stages';
import { endSuperseded, supersededMessage } from './supersession';

/** Takes one model from data in a bucket to production, or ends saying why it did not get there. */
export async function modelPipeline(input: PipelineInput): Promise<PipelineResult> {
  const { modelName, config } = input;
  const tracker = createStatusTracker(modelName);
  const { status, enterStage } = tracker;
  const ctx: PipelineContext = { input, tracker, activities: createPipelineActivities(config) };
  const { control } = ctx.activities;
  let rollout: RolloutHandle | undefined;

  setHandler(statusQuery, () => status, {
    description: 'Stage, candidate and production metrics, pending approval, decisions and rollout progress.',
  });
  setDecisionHandlers({
    modelName,
    tracker,
    timeoutOutcome: timeoutDecisionKind(config),
    rollout: () => rollout,
  });

  const run = async (): Promise<PipelineResult> => {
    try {
      const ingest = await ingestData(ctx);
      const { production, validation, reviewWarnings } = await validateData(ctx, ingest);
      const trained = await trainCandidate(ctx, ingest);
      const evaluation = await evaluateCandidate(ctx, { ingest, trained, production });
      const { version, registered } = await registerCandidate(ctx, {
        ingest,
        validation,
        trained,
        evaluation,
      });
      const candidate = { version, metrics: evaluation.candidate };

      const decision = await awaitCandidateDecision(ctx, { version, registered, evaluation, reviewWarnings });
      if (decision === 'superseded')
        return await endSuperseded(ctx, candidate, supersededMessage(version, status.supersededBy!));
      await recordCandidateDecision(ctx, version, decision);
      if (decision.kind !== 'approved') {
        enterStage('rejected', `${decision.kind} by ${decision.by}`);
        return { modelName, version, outcome: 'rejected', metrics: evaluation.candidate, decision };
      }

      rollout = await startRolloutWhenFree(ctx, { version, modelUri: trained.modelUri });
      status.rolloutWorkflowId = deploymentWorkflowId(modelName);
      enterStage('canary');
      const deployed = await awaitRollout(ctx, rollout, { version, evaluation, validation });
      if (deployed.outcome === 'superseded') return await endSuperseded(ctx, candidate, deployed.reason);
      return { modelName, version, outcome: 'production', metrics: evaluation.candidate, decision };
    } catch (err) {
      // Cancelled while a candidate waited: it will never be decided or deployed.
      const waiting = ['awaiting-approval', 'waiting-to-deploy'].includes(status.stage);
      if (isCancellation(err) && waiting && status.candidateVersion) {
        const version = status.candidateVersion;
        await CancellationScope.nonCancellable(() =>
          control.setModelVersionStatus({
            model: modelName,
            version,
            status: 'archived',
            note: 'pipeline cancelled',
          }),
        );
      }
      if (status.stage !== 'rolled-back') enterStage('failed', rootMessage(err));
      throw err;
    }
  };
  try {
    return await run();
  } finally {
    // Let async handlers finish (a decision being forwarded), so no caller is left without an answer.
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  }
}
