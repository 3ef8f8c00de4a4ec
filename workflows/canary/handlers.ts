/**
 * The rollout's handlers: the `status` query, the operators' pause/resume/promote/abort Signals
 * and the full-traffic gate's approve/reject, from the pipeline (which forwards its reviewers')
 * or sent here directly. Handlers only change state and record the command with its outcome;
 * the steps act on it. Workflow-safe.
 */
import { setHandler } from '@temporalio/workflow';
import type { RolloutContext } from './context';
import {
  abortRolloutSignal,
  approveSignal,
  pauseRolloutSignal,
  promoteRolloutSignal,
  rejectSignal,
  resumeRolloutSignal,
  rolloutStatusQuery,
  type Decision,
  type RolloutCommand,
} from '../../contracts/temporal';
import {
  checkApprovePayload,
  checkRejectPayload,
  checkRolloutCommandPayload,
} from '../../contracts/signal-payloads';

const PAYLOAD_HELP = 'Payload: {"by": "your name", "reason": "optional"}';

/** Sets the query and every Signal handler of a rollout run. */
export function setRolloutHandlers({ input, state }: RolloutContext): void {
  const { status } = state;
  setHandler(rolloutStatusQuery, () => status, {
    description: 'Current step, traffic weight, canary comparisons and the full-traffic gate.',
  });
  const onCommand =
    (command: RolloutCommand, apply: (by: string, reason?: string) => string) => (payload: unknown) => {
      const at = new Date().toISOString();
      const checked = checkRolloutCommandPayload(payload);
      if (!checked.ok) {
        status.commands.push({ command, by: '?', at, outcome: `refused: ${checked.reason}` });
        return;
      }
      const { by, reason } = checked.value;
      const outcome = ['promoted', 'rolled-back', 'aborted'].includes(status.phase)
        ? `ignored: rollout already ${status.phase}`
        : apply(by, reason);
      status.commands.push({ command, by, ...(reason ? { reason } : {}), at, outcome });
    };
  setHandler(
    pauseRolloutSignal,
    onCommand('pause', () => ((state.paused = true), 'paused: weights hold, analysis goes on')),
    { description: `Hold the canary at its current weight (regressions still roll back). ${PAYLOAD_HELP}` },
  );
  setHandler(
    resumeRolloutSignal,
    onCommand('resume', () => ((state.paused = false), 'resumed')),
    {
      description: `Continue a paused canary. ${PAYLOAD_HELP}`,
    },
  );
  setHandler(
    promoteRolloutSignal,
    onCommand('promote', (by) => {
      state.promoteRequested = by;
      return input.fullTrafficGate ? 'skipping to the full-traffic approval' : 'promoting to 100%';
    }),
    {
      description: `Skip the remaining steps (to the full-traffic approval, when one is required). ${PAYLOAD_HELP}`,
    },
  );
  setHandler(
    abortRolloutSignal,
    onCommand(
      'abort',
      (by, reason) => ((state.abortRequested = `${by}${reason ? `: ${reason}` : ''}`), 'aborting'),
    ),
    { description: `Send all traffic back to stable and fail the rollout. ${PAYLOAD_HELP}` },
  );

  /** A gate decision; the first one while the gate is open wins. */
  const onGateDecision = (kind: Decision['kind'], by: string, note: string | undefined, version?: string) => {
    const at = new Date().toISOString();
    let outcome: string | undefined;
    const { gateDecision } = state;
    if (status.phase !== 'awaiting-approval')
      outcome = `ignored: nothing is waiting for approval (${status.phase})`;
    else if (gateDecision) outcome = `ignored: already ${gateDecision.kind} by ${gateDecision.by}`;
    else if (version && version !== input.candidateVersion)
      outcome = `ignored: v${version} is not the version waiting; v${input.candidateVersion} is`;
    if (outcome === undefined) {
      state.gateDecision = { kind, by, ...(note ? { note } : {}), at };
      outcome = kind;
    }
    status.commands.push({ command: kind === 'approved' ? 'approve' : 'reject', by, at, outcome });
  };
  setHandler(
    approveSignal,
    (payload: unknown) => {
      const checked = checkApprovePayload(payload);
      if (!checked.ok)
        return void status.commands.push({
          command: 'approve',
          by: '?',
          at: new Date().toISOString(),
          outcome: `refused: ${checked.reason}`,
        });
      onGateDecision('approved', checked.value.by, checked.value.comment, checked.value.version);
    },
    {
      description:
        'Approve sending 100% of traffic to the canary (full-traffic gate). Payload: {"by": "your name", "comment": "optional"}',
    },
  );
  setHandler(
    rejectSignal,
    (payload: unknown) => {
      const checked = checkRejectPayload(payload);
      if (!checked.ok)
        return void status.commands.push({
          command: 'reject',
          by: '?',
          at: new Date().toISOString(),
          outcome: `refused: ${checked.reason}`,
        });
      onGateDecision('rejected', checked.value.by, checked.value.reason, checked.value.version);
    },
    {
      description:
        'Refuse full traffic: roll back to stable. Payload: {"by": "your name", "reason": "optional"}',
    },
  );
}
