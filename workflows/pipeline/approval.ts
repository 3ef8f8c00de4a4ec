/**
 * The candidate gate: the registered candidate waits for a person (with approval.required) until
 * the decision, a newer candidate, or the deadline, whose outcome approval.timeoutOutcome sets.
 * The decision itself comes in through the handlers in pipeline-decisions.ts. Workflow-safe.
 */
import { condition, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { approvalDetailsMarkdown } from './approval-details';
import type { ApprovalGate, Decision } from '../../contracts/temporal';
import { timeoutDecisionKind, type PipelineContext } from './context';
import type { EvaluationResult, RegisteredCandidate } from './stages';

/** How often the reviewer's details (time left) are refreshed while a candidate waits. */
const APPROVAL_DETAILS_REFRESH_MS = 60 * 60 * 1000;

/** The gate this module runs; the full-traffic gate is the canary's. */
const GATE: ApprovalGate = 'candidate';

/** A registered candidate and what its reviewer is shown. */
export interface CandidateForReview extends RegisteredCandidate {
  evaluation: EvaluationResult;
  /** Why the run exists and what validation found, shown first. */
  reviewWarnings: string[];
}

/**
 * Stage `awaiting-approval`: the candidate's decision, taken by a person, by the deadline, or at
 * once without approval.required; `superseded` when a newer candidate replaced it undecided.
 */
export async function awaitCandidateDecision(
  { input, tracker }: PipelineContext,
  { version, registered, evaluation, reviewWarnings }: CandidateForReview,
): Promise<Decision | 'superseded'> {
  const { modelName, config } = input;
  const { status } = tracker;
  if (status.supersededBy) return 'superseded';
  if (!config.approval.required) {
    status.decision = {
      kind: 'approved',
      by: 'automatic (approval.required=false)',
      at: new Date().toISOString(),
    };
    return status.decision;
  }
  tracker.enterStage('awaiting-approval');
  const timeoutOutcome = timeoutDecisionKind(config);
  const deadlineMs = Date.now() + config.approval.timeoutHours * 3_600_000;
  status.pending = {
    gate: GATE,
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
        workflowId: workflowInfo().workflowId,
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
  if (status.supersededBy && !status.decision) return 'superseded';
  status.decision ??= {
    kind: timeoutOutcome,
    by: 'approval timeout',
    note: `no decision within ${config.approval.timeoutHours}h (approval.timeoutOutcome=${config.approval.timeoutOutcome})`,
    at: new Date().toISOString(),
    timedOut: true,
  };
  return status.decision;
}

/** Writes the candidate gate's decision to the registry and shows it in the Web UI. */
export async function recordCandidateDecision(
  { input, activities }: PipelineContext,
  version: string,
  decision: Decision,
): Promise<void> {
  const { modelName } = input;
  await activities.control.recordApproval({
    model: modelName,
    version,
    approval: {
      decision: decision.timedOut && decision.kind === 'rejected' ? 'timed-out' : decision.kind,
      by: decision.by,
      at: decision.at,
      gate: GATE,
      ...(decision.note ? { note: decision.note } : {}),
    },
  });
  setCurrentDetails(
    `${modelName} v${version}: ${decision.kind} by ${decision.by}${decision.note ? ` — ${decision.note}` : ''}`,
  );
}
