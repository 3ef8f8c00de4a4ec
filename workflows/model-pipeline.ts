/**
 * modelPipeline: ingest → validate → train → evaluate → register → approval → canary rollout.
 * Deterministic workflow code: every side effect happens in an activity.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  executeChild,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities, GpuActivities } from '../activities';
import { approvalDetailsMarkdown } from './approval-details';
import { canaryRollout } from './canary-rollout';
import {
  approveSignal,
  canaryWorkflowId,
  ML_MODEL,
  ML_MODEL_VERSION,
  ML_STAGE,
  rejectSignal,
  statusQuery,
  type Decision,
  type PipelineInput,
  type PipelineResult,
  type PipelineStage,
  type PipelineStatus,
} from './definitions';
import { checkApprovePayload, checkRejectPayload } from './signal-payloads';

/** Failure types of a rollout that ended on a verdict or by hand; the child already restored stable. */
const ROLLBACK_FAILURE_TYPES = ['CanaryRegression', 'CanaryInconclusive', 'RolloutAborted'];

const control = proxyActivities<ControlActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { maximumAttempts: 5, initialInterval: '1 second' },
});

export async function modelPipeline(input: PipelineInput): Promise<PipelineResult> {
  const { modelName, dataUri, config } = input;
  const gpu = proxyActivities<GpuActivities>({
    taskQueue: config.taskQueues.gpu,
    startToCloseTimeout: '12 hours',
    heartbeatTimeout: '2 minutes',
    retry: { maximumAttempts: 5, initialInterval: '5 seconds' },
  });
  const status: PipelineStatus = { modelName, stage: 'ingest', ignoredSignals: [] };
  let decision: Decision | undefined;
  let awaitingDecision = false;

  const enterStage = (stage: PipelineStage, message?: string) => {
    status.stage = stage;
    status.message = message;
    upsertSearchAttributes([
      { key: ML_MODEL, value: modelName },
      { key: ML_STAGE, value: stage },
    ]);
  };
  const ignoreSignal = (name: string, reason: string) => {
    status.ignoredSignals.push({ name, reason, at: new Date().toISOString() });
  };
  const decide = (kind: 'approved' | 'rejected', by: string, note: string | undefined) => {
    if (!awaitingDecision)
      return ignoreSignal(
        kind === 'approved' ? 'approve' : 'reject',
        `nothing is waiting for a decision (stage ${status.stage})`,
      );
    if (decision)
      return ignoreSignal(
        kind === 'approved' ? 'approve' : 'reject',
        `already ${decision.kind} by ${decision.by}`,
      );
    decision = { kind, by, ...(note ? { note } : {}), at: new Date().toISOString() };
  };

  setHandler(statusQuery, () => status, {
    description: 'Stage, candidate and production metrics, decision and rollout progress.',
  });
  setHandler(
    approveSignal,
    (payload: unknown) => {
      const checked = checkApprovePayload(payload);
      if (!checked.ok) return ignoreSignal('approve', checked.reason);
      decide('approved', checked.value.by, checked.value.comment);
    },
    {
      description:
        'Approve the candidate model for a canary rollout. Payload: {"by": "your name", "comment": "optional"}',
    },
  );
  setHandler(
    rejectSignal,
    (payload: unknown) => {
      const checked = checkRejectPayload(payload);
      if (!checked.ok) return ignoreSignal('reject', checked.reason);
      decide('rejected', checked.value.by, checked.value.reason);
    },
    {
      description:
        'Reject the candidate model; nothing is deployed. Payload: {"by": "your name", "reason": "optional"}',
    },
  );

  try {
    enterStage('ingest');
    const ingest = await control.ingestDataset({
      dataUri,
      imageSize: config.data.imageSize,
      evalFraction: config.data.evalFraction,
    });

    enterStage('validate');
    const validation = await control.validateDataset({
      ingest,
      maxBadRowFraction: config.data.maxBadRowFraction,
      minRows: config.data.minRows,
    });

    enterStage('train');
    const production = await control.getProductionVersion({ model: modelName });
    const trained = await gpu.trainModel({
      trainUri: ingest.trainUri,
      imageSize: ingest.imageSize,
      train: config.train,
    });

    enterStage('evaluate');
    const evaluation = await gpu.evaluateModel({
      candidateModelUri: trained.modelUri,
      evalUri: ingest.evalUri,
      ...(production ? { production: { version: production.version, modelUri: production.modelUri } } : {}),
      thresholds: config.evaluate,
    });
    status.candidateMetrics = evaluation.candidate;
    if (evaluation.production) {
      status.productionVersion = evaluation.production.version;
      status.productionMetrics = evaluation.production;
    }
    if (!evaluation.blessed) {
      throw ApplicationFailure.create({
        nonRetryable: true,
        type: 'ModelNotBlessed',
        message: `Candidate for ${modelName} was not blessed: ${evaluation.failures.join('; ')}`,
      });
    }

    enterStage('register');
    const { workflowId, runId } = workflowInfo();
    const record = await control.registerModelVersion({
      model: modelName,
      modelUri: trained.modelUri,
      workflowId,
      runId,
      dataUri,
      datasetFingerprint: ingest.fingerprint,
      parameters: config,
      metrics: { ...evaluation.candidate, reportUri: evaluation.reportUri },
      training: { backend: trained.backend, device: trained.device },
    });
    const version = record.version;
    status.candidateVersion = version;
    upsertSearchAttributes([{ key: ML_MODEL_VERSION, value: version }]);

    if (config.approval.required) {
      enterStage('awaiting-approval');
      const timeoutMs = config.approval.timeoutHours * 3_600_000;
      setCurrentDetails(
        approvalDetailsMarkdown({
          modelName,
          candidateVersion: version,
          candidate: evaluation.candidate,
          ...(evaluation.production ? { production: evaluation.production } : {}),
          warnings: validation.warnings,
          deadline: new Date(Date.now() + timeoutMs).toISOString(),
          reportUri: evaluation.reportUri,
        }),
      );
      awaitingDecision = true;
      const decided = await condition(() => decision !== undefined, timeoutMs);
      awaitingDecision = false;
      if (!decided) {
        decision = { kind: 'timed-out', by: 'approval timeout', at: new Date().toISOString() };
      }
    } else {
      decision = {
        kind: 'approved',
        by: 'automatic (approval.required=false)',
        at: new Date().toISOString(),
      };
    }
    status.decision = decision;
    const finalDecision = decision!;
    setCurrentDetails(
      `${modelName} v${version}: ${finalDecision.kind} by ${finalDecision.by}${finalDecision.note ? ` — ${finalDecision.note}` : ''}`,
    );

    if (finalDecision.kind !== 'approved') {
      await control.setModelVersionStatus({
        model: modelName,
        version,
        status: 'rejected',
        note: `${finalDecision.kind} by ${finalDecision.by}`,
      });
      enterStage('rejected', `${finalDecision.kind} by ${finalDecision.by}`);
      return {
        modelName,
        version,
        outcome: 'rejected',
        metrics: evaluation.candidate,
        decision: finalDecision,
      };
    }

    await control.setModelVersionStatus({
      model: modelName,
      version,
      status: 'approved',
      note: `by ${finalDecision.by}`,
    });
    enterStage('canary');
    await control.setModelVersionStatus({ model: modelName, version, status: 'canary' });
    // Read production again: hours may have passed since evaluation, and the canary must compare
    // with (and fall back to) what serves now.
    const stable = await control.getProductionVersion({ model: modelName });
    try {
      await executeChild(canaryRollout, {
        workflowId: canaryWorkflowId(workflowInfo().workflowId),
        args: [
          {
            modelName,
            candidateVersion: version,
            candidateModelUri: trained.modelUri,
            ...(stable ? { stableVersion: stable.version, stableModelUri: stable.modelUri } : {}),
            rollout: config.rollout,
          },
        ],
      });
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined;
      const judged = cause instanceof ApplicationFailure && ROLLBACK_FAILURE_TYPES.includes(cause.type ?? '');
      const reason = cause instanceof Error ? cause.message : String(err);
      // Whatever ended the rollout (a verdict, cancellation, termination), traffic goes back to stable.
      await CancellationScope.nonCancellable(async () => {
        if (!judged && stable) {
          await control.applyDeployment({
            model: modelName,
            stable: { version: stable.version, modelUri: stable.modelUri },
          });
        }
        await control.setModelVersionStatus({
          model: modelName,
          version,
          status: 'rolled-back',
          note: reason,
        });
      });
      enterStage('rolled-back', reason);
      if (!judged) throw err;
      throw ApplicationFailure.create({
        nonRetryable: true,
        type: 'RolledBack',
        message: `${modelName} v${version} was rolled back: ${reason}`,
      });
    }

    await control.setProductionAlias({ model: modelName, version });
    await control.setModelVersionStatus({ model: modelName, version, status: 'production' });
    if (stable) {
      await control.setModelVersionStatus({
        model: modelName,
        version: stable.version,
        status: 'archived',
        note: `replaced by v${version}`,
      });
    }
    enterStage('production');
    setCurrentDetails(
      `${modelName} v${version} is in production (AUC ${evaluation.candidate.auc.toFixed(4)}).`,
    );
    return {
      modelName,
      version,
      outcome: 'production',
      metrics: evaluation.candidate,
      decision: finalDecision,
    };
  } catch (err) {
    if (status.stage !== 'rolled-back')
      enterStage('failed', err instanceof Error ? err.message : String(err));
    throw err;
  }
}
