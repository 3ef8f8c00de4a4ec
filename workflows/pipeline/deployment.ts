/**
 * Deploying an approved candidate: the canary child runs under the model's deployment workflow id,
 * which is the lock that keeps one deployment per model at a time, and its end decides the
 * pipeline's: production (with the data schema widened if the candidate's data needed it),
 * superseded, or rolled back. Workflow-safe.
 */
import {
  ApplicationFailure,
  CancellationScope,
  log,
  ParentClosePolicy,
  setCurrentDetails,
  sleep,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { canaryRollout } from '../canary/canary-rollout';
import { deploymentWorkflowId } from '../../contracts/temporal';
import { CANARY_VERDICT_FAILURES, FAILURE, rootMessage } from '../../contracts/failures';
import { expectedShiftReason, type PipelineContext } from './context';
import type { RolloutHandle } from './decisions';
import type { EvaluationResult, ValidationResult } from './stages';

/** How often a pipeline whose deployment must wait for another one tries again: doubling, capped. */
const DEPLOYMENT_LOCK_RETRY_MS = 15_000;
const DEPLOYMENT_LOCK_MAX_RETRY_MS = 10 * 60_000;

/**
 * Starts the canary child under the deployment lock; while another deployment of the model holds
 * it, waits in stage `waiting-to-deploy` and tries again.
 */
export async function startRolloutWhenFree(
  { input, tracker }: PipelineContext,
  candidate: { version: string; modelUri: string },
): Promise<RolloutHandle> {
  const { modelName, config } = input;
  const { version } = candidate;
  // One deployment per model at a time: the deployment workflow id is the lock.
  const rolloutId = deploymentWorkflowId(modelName);
  let retryMs = DEPLOYMENT_LOCK_RETRY_MS;
  for (;;) {
    try {
      return await startChild(canaryRollout, {
        workflowId: rolloutId,
        // Closing the pipeline (terminate, timeout) cancels the canary, which then restores stable.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `Canary ${modelName} v${version}: ${config.rollout.steps.map((step) => `${step.weight}%`).join(' → ')}`,
        args: [
          {
            modelName,
            candidateVersion: version,
            candidateModelUri: candidate.modelUri,
            rollout: config.rollout,
            ...(config.approval.beforeFullTraffic
              ? {
                  fullTrafficGate: {
                    timeoutHours: config.approval.timeoutHours,
                    timeoutOutcome: config.approval.timeoutOutcome,
                  },
                }
              : {}),
          },
        ],
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Backing off keeps a long wait (behind a canary held at its gate for days) from filling the history.
      tracker.enterStage(
        'waiting-to-deploy',
        `another deployment of ${modelName} is running (${rolloutId}); trying again in ${Math.round(retryMs / 1000)}s`,
      );
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, DEPLOYMENT_LOCK_MAX_RETRY_MS);
    }
  }
}

/** How a rollout that did not throw ended for the pipeline. */
export type RolloutOutcome = { outcome: 'production' } | { outcome: 'superseded'; reason: string };

/**
 * Waits for the canary to end. In production: widens the schema if needed and enters stage
 * `production`. Rolled back: enters `rolled-back` and throws RolledBack, or DeploymentFailed when the
 * rollout ended without compensating (stable is then restored here).
 */
export async function awaitRollout(
  { input, tracker, activities }: PipelineContext,
  rollout: RolloutHandle,
  candidate: { version: string; evaluation: EvaluationResult; validation: ValidationResult },
): Promise<RolloutOutcome> {
  const { modelName, config } = input;
  const { status, enterStage } = tracker;
  const { control } = activities;
  const { version, evaluation, validation } = candidate;
  // What follows `rollout.result()` stays in this one function, awaited as before: a forwarded
  // full-traffic decision can resume in the same activation, and moving these steps behind another
  // await could reorder its timer against their commands.
  let result;
  try {
    result = await rollout.result();
  } catch (err) {
    status.pending = undefined;
    const cause = err instanceof Error ? err.cause : undefined;
    const type = cause instanceof ApplicationFailure ? cause.type : undefined;
    const reason = rootMessage(err);
    if (type === FAILURE.Superseded) return { outcome: 'superseded', reason };
    if (!CANARY_VERDICT_FAILURES.some((verdict) => verdict === type)) {
      // The rollout ended without compensating (terminated, timed out, failed): put stable back
      // if this version is still the canary, and mark it. A verdict already did both.
      let cleanup = '';
      await CancellationScope.nonCancellable(async () => {
        try {
          await control.abandonRollout({ model: modelName, version, reason });
        } catch (cleanupErr) {
          cleanup = `; cleaning up also failed: ${rootMessage(cleanupErr)}`;
        }
      });
      enterStage('rolled-back', `${reason}${cleanup}`);
      throw ApplicationFailure.create({
        nonRetryable: true,
        type: FAILURE.DeploymentFailed,
        message: `${modelName} v${version} deployment failed: ${reason}${cleanup}`,
        cause: err instanceof Error ? err : undefined,
      });
    }
    enterStage('rolled-back', reason);
    throw ApplicationFailure.create({
      nonRetryable: true,
      type: FAILURE.RolledBack,
      message: `${modelName} v${version} was rolled back: ${reason}`,
    });
  }
  if (result.fullTrafficDecision) status.fullTrafficDecision = result.fullTrafficDecision;
  status.pending = undefined;
  let schemaNote = '';
  if (validation.schemaChanges?.length) {
    // Only now: a rejected or rolled-back candidate must not loosen the checks on later data.
    // The model serves either way, so a failure here is reported, not fatal.
    try {
      // The model already serves: a cancellation now must not leave the schema behind it.
      const adopted = await CancellationScope.nonCancellable(() =>
        control.adoptSchemaChanges({
          modelName,
          statisticsUri: validation.statisticsUri,
          reason: `v${version} reached production: ${expectedShiftReason(input) ?? 'retraining for a data shift'}`,
          ...(config.data.validation ? { validation: config.data.validation } : {}),
        }),
      );
      schemaNote = ` The data schema widened: ${adopted.changes.join('; ') || 'already wide enough'}.`;
    } catch (err) {
      schemaNote = ` Widening the data schema failed (${rootMessage(err)}); widen ${validation.schemaUri ?? 'it'} by hand.`;
      log.warn('schema adoption failed', { error: rootMessage(err) });
    }
  }
  enterStage('production');
  setCurrentDetails(
    `${modelName} v${version} is in production (AUC ${evaluation.candidate.auc.toFixed(4)})${result.replacedVersion ? `, replacing v${result.replacedVersion}` : ''}.${schemaNote}`,
  );
  return { outcome: 'production' };
}
