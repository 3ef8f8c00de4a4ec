/**
 * canaryRollout: shift traffic to the candidate step by step, compare it with stable at each
 * step, and send every request back to stable the moment it regresses. Operators can pause,
 * resume, promote or abort it by signal; with a full-traffic gate it holds before 100% until a
 * person approves. It runs under the model's deployment workflow id, so it is the only
 * deployment of its model while it runs; it moves the registry's statuses and aliases itself,
 * inside that lock.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities';
import { withSummaries } from './activity-summaries';
import { compareCanary, type TrafficSnapshot } from './canary-analysis';
import {
  abortRolloutSignal,
  approveSignal,
  fullTrafficGateSignal,
  pauseRolloutSignal,
  promoteRolloutSignal,
  rejectSignal,
  resumeRolloutSignal,
  rolloutStatusQuery,
  type CanaryComparison,
  type Decision,
  type RolloutCommand,
  type RolloutInput,
  type RolloutResult,
  type RolloutStatus,
} from './definitions';
import { rolloutDetailsMarkdown } from './rollout-details';
import { checkApprovePayload, checkRejectPayload, checkRolloutCommandPayload } from './signal-payloads';

const control = withSummaries(
  proxyActivities<ControlActivities>({
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '20 seconds',
    retry: { maximumAttempts: 10, initialInterval: '500 milliseconds', maximumInterval: '5 seconds' },
  }),
);

const PAUSED_ANALYSIS_INTERVAL_MS = 30_000;
/** Each analysis tick adds about ten events; a new run keeps a long hold's history small. */
const CONTINUE_AS_NEW_AFTER_EVENTS = 5_000;

/** What a rollout carries into its next run when it continues as new. */
export interface RolloutCarry {
  status: RolloutStatus;
  stable?: { version: string; modelUri: string };
  stepIndex: number;
  bakedMs: number;
  baseline: TrafficSnapshot;
  paused: boolean;
  promoteRequested?: string;
  abortRequested?: string;
}

export async function canaryRollout(input: RolloutInput & { carry?: RolloutCarry }): Promise<RolloutResult> {
  const { modelName, carry } = input;
  const status: RolloutStatus = carry?.status ?? {
    phase: 'shifting',
    step: 0,
    weight: 0,
    comparisons: [],
    commands: [],
  };
  let paused = carry?.paused ?? false;
  let promoteRequested = carry?.promoteRequested;
  let abortRequested = carry?.abortRequested;
  let gateDecision: Decision | undefined = status.gate?.decision;

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
  const payloadHelp = 'Payload: {"by": "your name", "reason": "optional"}';
  setHandler(
    pauseRolloutSignal,
    onCommand('pause', () => ((paused = true), 'paused: weights hold, analysis goes on')),
    { description: `Hold the canary at its current weight (regressions still roll back). ${payloadHelp}` },
  );
  setHandler(
    resumeRolloutSignal,
    onCommand('resume', () => ((paused = false), 'resumed')),
    {
      description: `Continue a paused canary. ${payloadHelp}`,
    },
  );
  setHandler(
    promoteRolloutSignal,
    onCommand('promote', (by) => {
      promoteRequested = by;
      return input.fullTrafficGate ? 'skipping to the full-traffic approval' : 'promoting to 100%';
    }),
    {
      description: `Skip the remaining steps (to the full-traffic approval, when one is required). ${payloadHelp}`,
    },
  );
  setHandler(
    abortRolloutSignal,
    onCommand(
      'abort',
      (by, reason) => ((abortRequested = `${by}${reason ? `: ${reason}` : ''}`), 'aborting'),
    ),
    { description: `Send all traffic back to stable and fail the rollout. ${payloadHelp}` },
  );

  /** A gate decision, from the pipeline (which forwards its reviewers') or sent here directly. */
  const onGateDecision = (kind: Decision['kind'], by: string, note: string | undefined, version?: string) => {
    const at = new Date().toISOString();
    let outcome: string | undefined;
    if (status.phase !== 'awaiting-approval')
      outcome = `ignored: nothing is waiting for approval (${status.phase})`;
    else if (gateDecision) outcome = `ignored: already ${gateDecision.kind} by ${gateDecision.by}`;
    else if (version && version !== input.candidateVersion)
      outcome = `ignored: v${version} is not the version waiting; v${input.candidateVersion} is`;
    if (outcome === undefined) {
      gateDecision = { kind, by, ...(note ? { note } : {}), at };
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

  const showDetails = () => setCurrentDetails(rolloutDetailsMarkdown(input, status));
  const candidate = { version: input.candidateVersion, modelUri: input.candidateModelUri };
  const parent = workflowInfo().parent;
  /** Tells the pipeline that the gate opened, or closed (with the winning decision, if one won). */
  const notifyParent = async (
    state: 'waiting' | 'closed',
    extra: { deadline?: string; decision?: Decision } = {},
  ) => {
    if (!parent) return;
    try {
      await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(fullTrafficGateSignal, {
        state,
        weight: status.weight,
        ...extra,
      });
    } catch {
      // A pipeline that is gone cannot be told; the gate still works by signalling this workflow.
    }
  };

  // Production is read here, inside the deployment lock: hours may have passed since the
  // pipeline evaluated, and the canary must compare with (and fall back to) what serves now.
  let stable = carry ? carry.stable : undefined;
  if (!carry) {
    const production = await control.getProductionVersion({ model: modelName });
    // Approved pipelines queue for the lock in no particular order: an older candidate must never
    // replace a newer version that reached production first.
    if (production && Number(production.version) > Number(candidate.version)) {
      throw ApplicationFailure.create({
        nonRetryable: true,
        type: 'Superseded',
        message: `v${candidate.version} is older than v${production.version}, which reached production first; not deployed`,
      });
    }
    if (production && production.version !== candidate.version)
      stable = { version: production.version, modelUri: production.modelUri };
    await control.setModelVersionStatus({ model: modelName, version: candidate.version, status: 'canary' });
  }

  /** Registry and traffic when the candidate takes over. */
  // A commit point: once traffic moves, the registry must follow even if cancellation arrives.
  const promote = (by: string, reason: string): Promise<RolloutResult> =>
    CancellationScope.nonCancellable(async () => {
      await control.applyDeployment({ model: modelName, stable: candidate });
      await control.setProductionAlias({ model: modelName, version: candidate.version, by, reason });
      await control.setModelVersionStatus({
        model: modelName,
        version: candidate.version,
        status: 'production',
        by,
        note: reason,
      });
      if (stable) {
        await control.setModelVersionStatus({
          model: modelName,
          version: stable.version,
          status: 'archived',
          note: `replaced by v${candidate.version}`,
          onlyFrom: ['production'],
        });
      }
      status.phase = 'promoted';
      status.weight = 100;
      status.live = undefined;
      return {
        outcome: 'promoted',
        comparisons: status.comparisons,
        ...(promoteRequested ? { promotedBy: promoteRequested } : {}),
        ...(stable ? { replacedVersion: stable.version } : {}),
        ...(gateDecision ? { fullTrafficDecision: gateDecision } : {}),
      };
    });

  if (!stable) {
    // The first version of a model has nothing to be compared with: it takes all traffic at once.
    const result = await promote('canaryRollout', 'first version of the model: no stable to compare with');
    setCurrentDetails(
      `${modelName} v${candidate.version} deployed as the first version (no stable to compare with).`,
    );
    return result;
  }
  const stableVersion = stable;
  status.stableVersion = stable.version;

  /** Compensation: all traffic back to stable first, then the registry, then explain. */
  const rollBack = async (reason: string, type: string, comparison?: CanaryComparison): Promise<never> => {
    await control.applyDeployment({ model: modelName, stable: stableVersion });
    await control.setModelVersionStatus({
      model: modelName,
      version: candidate.version,
      status: 'rolled-back',
      note: reason,
    });
    const gateWasOpen = status.phase === 'awaiting-approval';
    status.phase = type === 'RolloutAborted' ? 'aborted' : 'rolled-back';
    status.weight = 0;
    showDetails();
    if (gateWasOpen) await notifyParent('closed', gateDecision ? { decision: gateDecision } : {});
    throw ApplicationFailure.create({
      nonRetryable: true,
      type,
      message: reason,
      details: comparison ? [comparison] : [],
    });
  };
  const where = () => `step ${status.step} (${status.weight}%)`;
  const intervalMs = input.rollout.analysisIntervalSeconds * 1000;

  let stepIndex = carry?.stepIndex ?? 0;
  let bakedMs = carry?.bakedMs ?? 0;
  let baseline = carry?.baseline;

  /** Continues as new when the history grows long (a long pause or gate), keeping every bit of state. */
  const maybeContinueAsNew = async () => {
    if (workflowInfo().historyLength < CONTINUE_AS_NEW_AFTER_EVENTS || abortRequested) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof canaryRollout>({
      ...input,
      carry: {
        status,
        stable: stableVersion,
        stepIndex,
        bakedMs,
        baseline: baseline!,
        paused,
        ...(promoteRequested ? { promoteRequested } : {}),
        ...(abortRequested ? { abortRequested } : {}),
      },
    });
  };

  /** One comparison of the window since `baseline`; a failing one rolls back. */
  const analyse = async (minRequests: number): Promise<CanaryComparison> => {
    const comparison = compareCanary({
      baseline: baseline!,
      current: await control.snapshotTraffic({ model: modelName }),
      stableVersion: stableVersion.version,
      canaryVersion: candidate.version,
      step: status.step,
      weight: status.weight,
      minRequests,
      thresholds: input.rollout.thresholds,
    });
    status.live = comparison;
    if (comparison.verdict === 'fail') {
      status.comparisons.push(comparison);
      return rollBack(
        `canary v${candidate.version} failed at ${where()}: ${comparison.reason}`,
        'CanaryRegression',
        comparison,
      );
    }
    return comparison;
  };
  const checkAbort = () =>
    abortRequested
      ? rollBack(
          `canary v${candidate.version} aborted by ${abortRequested} at ${where()}`,
          'RolloutAborted',
          status.live,
        )
      : undefined;

  const steps = input.rollout.steps;
  try {
    // Bake each partial step.
    for (; stepIndex < steps.length; stepIndex++) {
      const step = steps[stepIndex]!;
      if (step.weight === 100 || promoteRequested || status.phase === 'awaiting-approval') break;
      if (!baseline || status.step !== stepIndex + 1) {
        status.step = stepIndex + 1;
        status.weight = step.weight;
        status.phase = 'shifting';
        status.live = undefined;
        await control.applyDeployment({
          model: modelName,
          stable: stableVersion,
          canary: { ...candidate, weight: step.weight },
        });
        baseline = await control.snapshotTraffic({ model: modelName });
        bakedMs = 0;
      }
      status.phase = paused ? 'paused' : 'baking';
      showDetails();
      // Time spent not paused: both the bake and the wait for traffic pause with the rollout.
      for (;;) {
        await checkAbort();
        await maybeContinueAsNew();
        const tickStart = Date.now();
        // Wakes early for a manual command, so abort and promote act within one analysis interval.
        // A paused rollout is analysed less often, so a long pause does not fill the history.
        const wasPaused = paused;
        await condition(
          () => abortRequested !== undefined || promoteRequested !== undefined || paused !== wasPaused,
          paused ? PAUSED_ANALYSIS_INTERVAL_MS : intervalMs,
        );
        await checkAbort();
        const comparison = await analyse(step.minRequests);
        status.phase = paused ? 'paused' : 'baking';
        if (!paused) bakedMs += Date.now() - tickStart;
        showDetails();
        if (promoteRequested) break;
        if (paused) continue;
        if (comparison.verdict === 'pass' && bakedMs >= step.bakeSeconds * 1000) {
          status.comparisons.push(comparison);
          break;
        }
        if (comparison.verdict === 'insufficient-traffic' && bakedMs >= input.rollout.maxWaitSeconds * 1000) {
          status.comparisons.push(comparison);
          return await rollBack(
            `canary v${candidate.version} failed at ${where()}: ${comparison.reason} ` +
              `within rollout.maxWaitSeconds (${input.rollout.maxWaitSeconds}s); not enough evidence to promote`,
            'CanaryInconclusive',
            comparison,
          );
        }
      }
    }

    // The full-traffic gate: hold at the last partial weight, still analysed, until a person decides.
    const gate = input.fullTrafficGate;
    const firstPartial = steps.find((step) => step.weight < 100);
    if (gate && firstPartial && !gateDecision) {
      if (status.phase !== 'awaiting-approval') {
        if (status.weight === 0) {
          // Promoted before the first step: the gate still holds, at the first partial weight.
          status.step = 1;
          status.weight = firstPartial.weight;
          await control.applyDeployment({
            model: modelName,
            stable: stableVersion,
            canary: { ...candidate, weight: firstPartial.weight },
          });
        }
        status.phase = 'awaiting-approval';
        status.gate = { deadline: new Date(Date.now() + gate.timeoutHours * 3_600_000).toISOString() };
        baseline = await control.snapshotTraffic({ model: modelName });
        await notifyParent('waiting', { deadline: status.gate.deadline });
      }
      showDetails();
      const deadlineMs = new Date(status.gate!.deadline).getTime();
      while (!gateDecision) {
        await checkAbort();
        await maybeContinueAsNew();
        const left = deadlineMs - Date.now();
        if (left <= 0) {
          gateDecision = {
            kind: gate.timeoutOutcome === 'approve' ? 'approved' : 'rejected',
            by: 'approval timeout',
            note: `no decision within ${gate.timeoutHours}h (approval.timeoutOutcome=${gate.timeoutOutcome})`,
            at: new Date().toISOString(),
            timedOut: true,
          };
          break;
        }
        await condition(
          () => abortRequested !== undefined || gateDecision !== undefined,
          Math.min(left, Math.max(intervalMs, PAUSED_ANALYSIS_INTERVAL_MS)),
        );
        await checkAbort();
        if (gateDecision) break;
        await analyse(0);
        showDetails();
      }
      status.gate!.decision = gateDecision;
      await control.recordApproval({
        model: modelName,
        version: candidate.version,
        approval: {
          decision:
            gateDecision.timedOut && gateDecision.kind === 'rejected' ? 'timed-out' : gateDecision.kind,
          by: gateDecision.by,
          at: gateDecision.at,
          gate: 'full-traffic',
          ...(gateDecision.note ? { note: gateDecision.note } : {}),
        },
      });
      if (gateDecision.kind === 'rejected') {
        // rollBack tells the pipeline the gate closed, with this decision.
        return await rollBack(
          `full traffic for v${candidate.version} was refused by ${gateDecision.by}${gateDecision.note ? `: ${gateDecision.note}` : ''}`,
          'RolloutAborted',
          status.live,
        );
      }
      await notifyParent('closed', { decision: gateDecision });
    }
  } catch (err) {
    // Cancelled (the pipeline was cancelled or timed out): never leave traffic split.
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        await control.applyDeployment({ model: modelName, stable: stableVersion });
        await control.setModelVersionStatus({
          model: modelName,
          version: candidate.version,
          status: 'rolled-back',
          note: 'rollout cancelled',
        });
      });
      status.phase = 'aborted';
      status.weight = 0;
    }
    throw err;
  }

  const by = gateDecision?.by ?? promoteRequested ?? 'canary analysis';
  const result = await promote(
    by,
    gateDecision
      ? `full traffic approved by ${gateDecision.by}`
      : `canary passed ${status.comparisons.length} step(s)`,
  );
  showDetails();
  return result;
}
