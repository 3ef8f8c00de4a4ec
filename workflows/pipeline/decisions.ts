/**
 * The pipeline's decision state machine: the `approve`/`reject` Signals and the `decide` Update at
 * whichever gate is open (the candidate gate here, or the canary's full-traffic gate, forwarded),
 * and the internal `supersede` and `fullTrafficGate` notices that open and close gates.
 * The first decision wins; a signal that does not apply is kept in `ignoredSignals`. Workflow-safe.
 */
import {
  ApplicationFailure,
  condition,
  setCurrentDetails,
  setHandler,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { canaryRollout } from '../canary/canary-rollout';
import {
  approveSignal,
  decideUpdate,
  deploymentWorkflowId,
  fullTrafficGateSignal,
  rejectSignal,
  supersedeSignal,
  type DecideResult,
  type Decision,
} from '../../contracts/temporal';
import type { StatusTracker } from './context';
import {
  checkApprovePayload,
  checkDecidePayload,
  checkGateNotice,
  checkRejectPayload,
  checkSupersedePayload,
} from '../../contracts/signal-payloads';
import { FAILURE } from '../../contracts/failures';

/** How long a full-traffic decision waits for the canary to say whether it won. */
const GATE_CONFIRMATION_TIMEOUT_MS = 60_000;

/** The canary child of a pipeline, which holds the full-traffic gate. */
export type RolloutHandle = ChildWorkflowHandle<typeof canaryRollout>;

/** What the handlers act on. */
export interface DecisionHandlersOptions {
  modelName: string;
  tracker: StatusTracker;
  /** What a gate decides by itself at its deadline. */
  timeoutOutcome: Decision['kind'];
  /** The running canary, once started: full-traffic decisions are forwarded to it. */
  rollout: () => RolloutHandle | undefined;
}

/** Sets the decision Signal and Update handlers, which act on `tracker.status`. */
export function setDecisionHandlers({
  modelName,
  tracker,
  timeoutOutcome,
  rollout,
}: DecisionHandlersOptions): void {
  const { status, ignoreSignal } = tracker;

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
      await rollout()!.signal(kind === 'approved' ? approveSignal : rejectSignal, payload);
    } catch (err) {
      throw ApplicationFailure.create({
        type: FAILURE.DecisionNotDelivered,
        message: `the rollout holding the full-traffic gate could not be reached: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    const confirmed = await condition(() => fullTrafficGateClosed, GATE_CONFIRMATION_TIMEOUT_MS);
    const winner = status.fullTrafficDecision;
    if (!confirmed || !winner)
      throw ApplicationFailure.create({
        type: FAILURE.DecisionNotDelivered,
        message: `the rollout did not confirm the decision within ${GATE_CONFIRMATION_TIMEOUT_MS / 1000}s; see its status`,
      });
    if (winner.by !== by || winner.kind !== kind)
      throw ApplicationFailure.create({
        type: FAILURE.DecisionRefused,
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
      if (!checked.ok)
        throw ApplicationFailure.create({ type: FAILURE.DecisionRefused, message: checked.reason });
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
}
