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
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  isCancellation,
  log,
  ParentClosePolicy,
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
import { rootMessage } from './error-messages';
import { ingestInShards } from './ingest-fanout';
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
/** How often a pipeline whose deployment must wait for another one tries again: doubling, capped. */
const DEPLOYMENT_LOCK_RETRY_MS = 15_000;
const DEPLOYMENT_LOCK_MAX_RETRY_MS = 10 * 60_000;
/** How long a full-traffic decision waits for the canary to say whether it won. */
const GATE_CONFIRMATION_TIMEOUT_MS = 60_000;

const control = withSummaries(
  proxyActivities<ControlActivities>({
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '2 minutes',
    retry: { maximumAttempts: 5, initialInterval: '1 second' },
  }),
);

export async function modelPipeline(input: PipelineInput): Promise<PipelineResult> {
  const { modelName, dataUri, config, trigger } = input;
  const shiftReason = trigger?.expectShift
    ? `retraining for a data shift, started by ${trigger.monitorWorkflowId}`
    : undefined;
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
  // Planning streams every CSV once; shard activities are bounded by data.shardRows.
  const ingester = withSummaries(
    proxyActivities<ControlActivities>({
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: '2 minutes',
      retry: { maximumAttempts: 5, initialInterval: '1 second' },
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
  /** Set by the canary's notice when its full-traffic gate closes; the canary decides who won there. */
  let fullTrafficGateClosed = false;

  /**
   * Takes a decision at the open gate. The candidate gate is this workflow's; a full-traffic
   * decision goes to the canary, which holds that gate (and may have timed out meanwhile), so the
   * answer is the canary's verdict. Throws an ApplicationFailure when the decision did not apply.
   */
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
      return { gate: pending.gate, version: pending.version, decision };
    }
    const payload = {
      by,
      version: pending.version,
      ...(note ? (kind === 'approved' ? { comment: note } : { reason: note }) : {}),
    };
    try {
      await rollout!.signal(kind === 'approved' ? approveSignal : rejectSignal, payload);
    } catch (err) {
      throw ApplicationFailure.create({
        type: 'DecisionNotDelivered',
        message: `the rollout holding the full-traffic gate could not be reached: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    const confirmed = await condition(() => fullTrafficGateClosed, GATE_CONFIRMATION_TIMEOUT_MS);
    const winner = status.fullTrafficDecision;
    if (!confirmed || !winner)
      throw ApplicationFailure.create({
        type: 'DecisionNotDelivered',
        message: `the rollout did not confirm the decision within ${GATE_CONFIRMATION_TIMEOUT_MS / 1000}s; see its status`,
      });
    if (winner.by !== by || winner.kind !== kind)
      throw ApplicationFailure.create({
        type: 'DecisionRefused',
        message: `the full-traffic gate was already ${winner.kind} by ${winner.by}${winner.timedOut ? ' (timeout)' : ''}`,
      });
    return { gate: pending.gate, version: pending.version, decision: winner };
  };
  /** A signal's decision: any failure to apply it is recorded, never thrown (that would fail the workflow). */
  const decideBySignal = async (
    name: string,
    kind: Decision['kind'],
    by: string,
    note: string | undefined,
  ) => {
    try {
      await decide(kind, by, note);
    } catch (err) {
      ignoreSignal(name, err instanceof Error ? err.message : String(err));
    }
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
      await decideBySignal('approve', 'approved', checked.value.by, checked.value.comment);
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
      await decideBySignal('reject', 'rejected', checked.value.by, checked.value.reason);
    },
    {
      description:
        'Reject the waiting model version: nothing is deployed, or the canary goes back to stable. Payload: {"by": "your name", "reason": "optional"}',
    },
  );
  setHandler(
    decideUpdate,
    async (payload) => {
      // The validator accepted it, so this parses; the parsed form is the normalized one.
      const checked = checkDecidePayload(payload);
      if (!checked.ok) throw ApplicationFailure.create({ type: 'DecisionRefused', message: checked.reason });
      const { decision, by, comment, reason } = checked.value;
      return decide(decision === 'approve' ? 'approved' : 'rejected', by, comment ?? reason);
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
      // Closed at once, so a decision arriving in the same moment cannot approve a superseded candidate.
      if (status.pending?.gate === 'candidate') status.pending = undefined;
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
      if (status.stage !== 'canary')
        return ignoreSignal('fullTrafficGate', `no rollout is running (stage ${status.stage})`);
      if (checked.value.state === 'closed') {
        if (status.pending?.gate === 'full-traffic') status.pending = undefined;
        if (checked.value.decision) status.fullTrafficDecision = checked.value.decision;
        fullTrafficGateClosed = true;
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

  const run = async (): Promise<PipelineResult> => {
    try {
      enterStage('ingest');
      // Planned once, then shard activities in parallel (bounded); shards already ingested from
      // the same bytes, by any run, are reused.
      const ingest = await ingestInShards(
        ingester,
        {
          dataUri,
          imageSize: config.data.imageSize,
          evalFraction: config.data.evalFraction,
          shardRows: config.data.shardRows,
          imageConcurrency: config.data.imageConcurrency,
        },
        {
          concurrency: config.data.ingestConcurrency,
          onProgress: ({ shardsDone, shardCount, reusedShards }) => {
            status.message = `${shardsDone}/${shardCount} shards ingested${reusedShards ? ` (${reusedShards} reused)` : ''}`;
          },
        },
      );

      enterStage('validate');
      // Production first: drift is measured against the data the production model was trained on.
      const production = await control.getProductionVersion({ model: modelName });
      const validation = await control.validateDataset({
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
          ? [
              `started by the production monitor (${trigger.monitorWorkflowId}): ${trigger.reasons.join('; ')}`,
            ]
          : []),
        ...(validation.schemaChanges?.length
          ? [
              `the data schema widens when this version reaches production: ${validation.schemaChanges.join('; ')}`,
            ]
          : []),
        ...validation.warnings,
      ];

      enterStage('train');
      const trained = await trainer.trainModel({
        trainUris: ingest.trainUris,
        imageSize: ingest.imageSize,
        train: config.train,
      });

      enterStage('evaluate');
      const evaluation = await gpu.evaluateModel({
        modelName,
        dataUri,
        candidateModelUri: trained.modelUri,
        evalUri: ingest.evalUri,
        evalUris: ingest.evalUris,
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
          details: [{ failedThresholds: evaluation.failedThresholds ?? [] }],
        });
      }

      enterStage('register');
      const { workflowId, runId, workflowType } = workflowInfo();
      const { failures: _failures, failedThresholds: _failed, ...evaluationSummary } = evaluation;
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

      /** Ends the pipeline cleanly when a newer version made this candidate moot. */
      const endSuperseded = async (message: string): Promise<PipelineResult> => {
        status.pending = undefined;
        await control.setModelVersionStatus({
          model: modelName,
          version,
          status: 'archived',
          by: 'pipeline',
          note: message,
        });
        enterStage('superseded', message);
        setCurrentDetails(`${modelName}: ${message}.`);
        return { modelName, version, outcome: 'superseded', metrics: evaluation.candidate, message };
      };
      const supersededMessage = () =>
        `v${version} was superseded by v${status.supersededBy!.version} (workflow ${status.supersededBy!.workflowId}) before a decision; review v${status.supersededBy!.version} instead`;

      const gate: ApprovalGate = 'candidate';
      if (status.supersededBy) return await endSuperseded(supersededMessage());
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
              warnings: reviewWarnings,
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
        if (status.supersededBy && !status.decision) return await endSuperseded(supersededMessage());
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
      let retryMs = DEPLOYMENT_LOCK_RETRY_MS;
      for (;;) {
        try {
          rollout = await startChild(canaryRollout, {
            workflowId: rolloutId,
            // Closing the pipeline (terminate, timeout) cancels the canary, which then restores stable.
            parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
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
          // Backing off keeps a long wait (behind a canary held at its gate for days) from filling the history.
          enterStage(
            'waiting-to-deploy',
            `another deployment of ${modelName} is running (${rolloutId}); trying again in ${Math.round(retryMs / 1000)}s`,
          );
          await sleep(retryMs);
          retryMs = Math.min(retryMs * 2, DEPLOYMENT_LOCK_MAX_RETRY_MS);
        }
      }
      status.rolloutWorkflowId = rolloutId;
      enterStage('canary');
      let result;
      try {
        result = await rollout.result();
      } catch (err) {
        status.pending = undefined;
        const cause = err instanceof Error ? err.cause : undefined;
        const type = cause instanceof ApplicationFailure ? cause.type : undefined;
        const reason = rootMessage(err);
        if (type === 'Superseded') return await endSuperseded(reason);
        if (!ROLLBACK_FAILURE_TYPES.includes(type ?? '')) {
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
            type: 'DeploymentFailed',
            message: `${modelName} v${version} deployment failed: ${reason}${cleanup}`,
            cause: err instanceof Error ? err : undefined,
          });
        }
        enterStage('rolled-back', reason);
        throw ApplicationFailure.create({
          nonRetryable: true,
          type: 'RolledBack',
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
              reason: `v${version} reached production: ${shiftReason ?? 'retraining for a data shift'}`,
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

/** The innermost message of a failure chain: the activity's own words, not "Activity task failed". */
