/**
 * modelPipeline: ingest → validate → train → evaluate → register → approval → canary rollout.
 * Deterministic workflow code: every side effect happens in an activity.
 *
 * Concurrency rule for one model: a newly registered candidate supersedes every older candidate
 * still waiting for approval (those pipelines end cleanly, outcome `superseded`); approved
 * candidates deploy one at a time, because every deployment of a model runs under the model's
 * deployment workflow id (see deploymentWorkflowId), and a pipeline whose turn has not come
 * waits in stage `waiting-to-deploy`.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { ControlActivities, GpuActivities } from '../activities';
import { withSummaries } from './activity-summaries';
import { approvalDetailsMarkdown } from './approval-details';
import { canaryRollout } from './canary-rollout';
import {
  approveSignal,
  decideUpdate,
  deploymentWorkflowId,
  fullTrafficGateSignal,
  ML_MODEL,
  ML_MODEL_VERSION,
  ML_STAGE,
  rejectSignal,
  statusQuery,
  supersedeSignal,
  type ApprovalGate,
  type Decision,
  type DecideResult,
  type PipelineInput,
  type PipelineResult,
  type PipelineStage,
  type PipelineStatus,
} from './definitions';
import {
  checkApprovePayload,
  checkDecidePayload,
  checkGateNotice,
  checkRejectPayload,
  checkSupersedePayload,
} from './signal-payloads';

/** Failure types of a rollout that ended on a verdict or by hand; the child already restored stable. */
const ROLLBACK_FAILURE_TYPES = ['CanaryRegression', 'CanaryInconclusive', 'RolloutAborted'];
/** How often the reviewer's details (time left) are refreshed while a candidate waits. */
const APPROVAL_DETAILS_REFRESH_MS = 60 * 60 * 1000;
/** How often a pipeline whose deployment must wait for another one tries again. */
const DEPLOYMENT_LOCK_RETRY_MS = 15_000;

const control = withSummaries(
  proxyActivities<ControlActivities>({
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '2 minutes',
    retry: { maximumAttempts: 5, initialInterval: '1 second' },
  }),
);

export async function modelPipeline(input: PipelineInput): Promise<PipelineResult> {
  const { modelName, dataUri, config } = input;
  const gpu = withSummaries(
    proxyActivities<GpuActivities>({
      taskQueue: config.taskQueues.gpu,
      startToCloseTimeout: '12 hours',
      heartbeatTimeout: '2 minutes',
      retry: { maximumAttempts: 5, initialInterval: '5 seconds' },
    }),
  );
  const status: PipelineStatus = { modelName, stage: 'ingest', ignoredSignals: [] };
  let rollout: ChildWorkflowHandle<typeof canaryRollout> | undefined;
  const timeoutOutcome = config.approval.timeoutOutcome === 'approve' ? 'approved' : 'rejected';

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

  /** Why a decision cannot be taken now, or undefined when it can. The first decision wins. */
  const decisionRefusal = (version: string | undefined): string | undefined => {
    const pending = status.pending;
    if (!pending) {
      const last = status.fullTrafficDecision ?? status.decision;
      return last
        ? `already ${last.kind} by ${last.by}${last.timedOut ? ' (timeout)' : ''}; nothing is waiting for a decision (stage ${status.stage})`
        : `nothing is waiting for a decision (stage ${status.stage})`;
    }
    if (version !== undefined && version !== pending.version)
      return `v${version} is not the version waiting for approval; v${pending.version} is`;
    return undefined;
  };
  /** Takes a decision at the open gate; the full-traffic gate's goes on to the canary, which holds it. */
  const decide = async (
    kind: Decision['kind'],
    by: string,
    note: string | undefined,
  ): Promise<DecideResult> => {
    const pending = status.pending!;
    const decision: Decision = { kind, by, ...(note ? { note } : {}), at: new Date().toISOString() };
    status.pending = undefined;
    if (pending.gate === 'candidate') {
      status.decision = decision;
    } else {
      status.fullTrafficDecision = decision;
      const payload = {
        by,
        version: pending.version,
        ...(note ? (kind === 'approved' ? { comment: note } : { reason: note }) : {}),
      };
      await getExternalWorkflowHandle(deploymentWorkflowId(modelName)).signal(
        kind === 'approved' ? approveSignal : rejectSignal,
        payload,
      );
    }
    return { gate: pending.gate, version: pending.version, decision };
  };

  setHandler(statusQuery, () => status, {
    description: 'Stage, candidate and production metrics, pending approval, decisions and rollout progress.',
  });
  setHandler(
    approveSignal,
    async (payload: unknown) => {
      const checked = checkApprovePayload(payload);
      if (!checked.ok) return ignoreSignal('approve', checked.reason);
      const refusal = decisionRefusal(checked.value.version);
      if (refusal) return ignoreSignal('approve', refusal);
      await decide('approved', checked.value.by, checked.value.comment);
    },
    {
      description:
        'Approve the waiting model version: the candidate (before the canary) or, with approval.beforeFullTraffic, 100% of traffic. Payload: {"by": "your name", "comment": "optional"}',
    },
  );
  setHandler(
    rejectSignal,
    async (payload: unknown) => {
      const checked = checkRejectPayload(payload);
      if (!checked.ok) return ignoreSignal('reject', checked.reason);
      const refusal = decisionRefusal(checked.value.version);
      if (refusal) return ignoreSignal('reject', refusal);
      await decide('rejected', checked.value.by, checked.value.reason);
    },
    {
      description:
        'Reject the waiting model version: nothing is deployed, or the canary goes back to stable. Payload: {"by": "your name", "reason": "optional"}',
    },
  );
  setHandler(
    decideUpdate,
    async (payload) => {
      const { decision, by, comment, reason } = payload;
      return decide(
        decision === 'approve' ? 'approved' : 'rejected',
        by.trim(),
        (comment ?? reason)?.trim() || undefined,
      );
    },
    {
      // Refused updates never reach history: the caller gets the reason, the workflow is untouched.
      validator: (payload) => {
        const checked = checkDecidePayload(payload);
        if (!checked.ok) throw new Error(checked.reason);
        const refusal = decisionRefusal(checked.value.version);
        if (refusal) throw new Error(refusal);
      },
      description:
        'Approve or reject the waiting version, answering with the decision or why it was refused. Payload: {"decision": "approve"|"reject", "by": "name", "comment"|"reason": "…", "version": "optional"}',
    },
  );
  setHandler(
    supersedeSignal,
    (payload: unknown) => {
      const checked = checkSupersedePayload(payload);
      if (!checked.ok) return ignoreSignal('supersede', checked.reason);
      if (status.decision)
        return ignoreSignal(
          'supersede',
          `v${status.candidateVersion} was already ${status.decision.kind}; it goes on`,
        );
      if (status.candidateVersion && Number(checked.value.version) <= Number(status.candidateVersion))
        return ignoreSignal(
          'supersede',
          `v${checked.value.version} is not newer than v${status.candidateVersion}`,
        );
      status.supersededBy = checked.value;
    },
    {
      description:
        'Internal: a newer candidate of the same model replaces this one while it waits for approval.',
    },
  );
  setHandler(
    fullTrafficGateSignal,
    (payload: unknown) => {
      const checked = checkGateNotice(payload);
      if (!checked.ok) return ignoreSignal('fullTrafficGate', checked.reason);
      if (checked.value.state === 'closed') {
        if (status.pending?.gate === 'full-traffic') status.pending = undefined;
        return;
      }
      if (!status.candidateVersion || status.fullTrafficDecision) return;
      status.pending = {
        gate: 'full-traffic',
        version: status.candidateVersion,
        since: new Date().toISOString(),
        deadline: checked.value.deadline ?? '',
        timeoutOutcome,
      };
      setCurrentDetails(
        `## ${modelName} v${status.candidateVersion} is at ${checked.value.weight}% of traffic, waiting for approval to go to 100%\n\n` +
          `Decide before ${checked.value.deadline ?? '—'} (then it is ${timeoutOutcome}). Send a Signal \`approve\` with \`{"by": "your name"}\` or \`reject\`. ` +
          `Live comparison: workflow \`${deploymentWorkflowId(modelName)}\`.`,
      );
    },
    {
      description:
        'Internal: the canary rollout tells its pipeline that its full-traffic gate opened or closed.',
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
      modelName,
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
    const { workflowId, runId, workflowType } = workflowInfo();
    const { failures: _failures, ...evaluationSummary } = evaluation;
    const registered = await control.registerModelVersion({
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
          trainRows: ingest.trainRows,
          evalRows: ingest.evalRows,
        },
        config,
        training: {
          backend: trained.backend,
          device: trained.device,
          epochs: trained.epochs,
          finalLoss: trained.finalLoss,
        },
        run: { workflowId, runId, workflowType },
      },
    });
    const version = registered.record.version;
    status.candidateVersion = version;
    upsertSearchAttributes([{ key: ML_MODEL_VERSION, value: version }]);
    // The newest candidate is the one to review: older ones still waiting end, saying why.
    for (const older of registered.olderCandidates) {
      try {
        await getExternalWorkflowHandle(older.workflowId, older.runId).signal(supersedeSignal, {
          version,
          workflowId,
        });
      } catch {
        // That pipeline has already ended; nothing to supersede.
      }
    }

    const gate: ApprovalGate = 'candidate';
    if (config.approval.required) {
      enterStage('awaiting-approval');
      const deadlineMs = Date.now() + config.approval.timeoutHours * 3_600_000;
      status.pending = {
        gate,
        version,
        since: new Date().toISOString(),
        deadline: new Date(deadlineMs).toISOString(),
        timeoutOutcome,
      };
      const showApprovalDetails = () =>
        setCurrentDetails(
          approvalDetailsMarkdown({
            modelName,
            candidateVersion: version,
            evaluation,
            warnings: validation.warnings,
            deadline: new Date(deadlineMs),
            now: new Date(),
            timeoutOutcome: config.approval.timeoutOutcome,
            workflowId,
            ...(registered.reportUrl ? { reportUrl: registered.reportUrl } : {}),
          }),
        );
      // Refreshed now and then so "time left" stays true; a decision or supersession wakes it at once.
      for (;;) {
        if (status.decision || status.supersededBy) break;
        const left = deadlineMs - Date.now();
        if (left <= 0) break;
        showApprovalDetails();
        await condition(
          () => status.decision !== undefined || status.supersededBy !== undefined,
          Math.min(left, APPROVAL_DETAILS_REFRESH_MS),
        );
      }
      status.pending = undefined;
      if (status.supersededBy && !status.decision) {
        const message = `v${version} was superseded by v${status.supersededBy.version} (workflow ${status.supersededBy.workflowId}) before a decision`;
        await control.setModelVersionStatus({
          model: modelName,
          version,
          status: 'archived',
          by: 'pipeline',
          note: message,
        });
        enterStage('superseded', message);
        setCurrentDetails(`${modelName}: ${message}. Review v${status.supersededBy.version} instead.`);
        return { modelName, version, outcome: 'superseded', metrics: evaluation.candidate, message };
      }
      status.decision ??= {
        kind: timeoutOutcome,
        by: 'approval timeout',
        note: `no decision within ${config.approval.timeoutHours}h (approval.timeoutOutcome=${config.approval.timeoutOutcome})`,
        at: new Date().toISOString(),
        timedOut: true,
      };
    } else {
      status.decision = {
        kind: 'approved',
        by: 'automatic (approval.required=false)',
        at: new Date().toISOString(),
      };
    }
    const decision = status.decision;
    await control.recordApproval({
      model: modelName,
      version,
      approval: {
        decision: decision.timedOut && decision.kind === 'rejected' ? 'timed-out' : decision.kind,
        by: decision.by,
        at: decision.at,
        gate,
        ...(decision.note ? { note: decision.note } : {}),
      },
    });
    setCurrentDetails(
      `${modelName} v${version}: ${decision.kind} by ${decision.by}${decision.note ? ` — ${decision.note}` : ''}`,
    );

    if (decision.kind !== 'approved') {
      enterStage('rejected', `${decision.kind} by ${decision.by}`);
      return { modelName, version, outcome: 'rejected', metrics: evaluation.candidate, decision };
    }

    // One deployment per model at a time: the deployment workflow id is the lock.
    const rolloutId = deploymentWorkflowId(modelName);
    for (;;) {
      try {
        rollout = await startChild(canaryRollout, {
          workflowId: rolloutId,
          staticSummary: `Canary ${modelName} v${version}: ${config.rollout.steps.map((step) => `${step.weight}%`).join(' → ')}`,
          args: [
            {
              modelName,
              candidateVersion: version,
              candidateModelUri: trained.modelUri,
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
        break;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        if (status.stage !== 'waiting-to-deploy')
          enterStage(
            'waiting-to-deploy',
            `another deployment of ${modelName} is running (${rolloutId}); trying again every ${DEPLOYMENT_LOCK_RETRY_MS / 1000}s`,
          );
        await sleep(DEPLOYMENT_LOCK_RETRY_MS);
      }
    }
    status.rolloutWorkflowId = rolloutId;
    enterStage('canary');
    let result;
    try {
      result = await rollout.result();
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined;
      const judged = cause instanceof ApplicationFailure && ROLLBACK_FAILURE_TYPES.includes(cause.type ?? '');
      const reason = cause instanceof Error ? cause.message : String(err);
      if (!judged) {
        // The rollout ended without compensating (terminated, timed out): traffic goes back to
        // what production is, and the candidate is marked. A verdict already did both.
        await CancellationScope.nonCancellable(async () => {
          const stable = await control.getProductionVersion({ model: modelName });
          if (stable && stable.version !== version)
            await control.applyDeployment({
              model: modelName,
              stable: { version: stable.version, modelUri: stable.modelUri },
            });
          await control.setModelVersionStatus({
            model: modelName,
            version,
            status: 'rolled-back',
            note: reason,
          });
        });
      }
      enterStage('rolled-back', reason);
      if (!judged) throw err;
      throw ApplicationFailure.create({
        nonRetryable: true,
        type: 'RolledBack',
        message: `${modelName} v${version} was rolled back: ${reason}`,
      });
    }
    if (result.fullTrafficDecision) status.fullTrafficDecision = result.fullTrafficDecision;
    status.pending = undefined;
    enterStage('production');
    setCurrentDetails(
      `${modelName} v${version} is in production (AUC ${evaluation.candidate.auc.toFixed(4)})${result.replacedVersion ? `, replacing v${result.replacedVersion}` : ''}.`,
    );
    return { modelName, version, outcome: 'production', metrics: evaluation.candidate, decision };
  } catch (err) {
    if (status.stage !== 'rolled-back')
      enterStage('failed', err instanceof Error ? err.message : String(err));
    throw err;
  }
}
