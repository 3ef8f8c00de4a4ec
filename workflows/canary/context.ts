/**
 * What every step of a canaryRollout run works with: its input, the candidate, its activity
 * proxies and its mutable state (the `status` query's answer, what operators asked for, where the
 * step loop is). State a run continues as new with comes back from its carry. Workflow-safe.
 */
import {
  condition,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
  type ParentWorkflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../../activities/index';
import { withSummaries } from '../activity-summaries';
import type { TrafficSnapshot } from './analysis';
import type { Decision, RolloutInput, RolloutStatus } from '../../contracts/temporal';
import { rolloutDetailsMarkdown } from './details';

/** Registry and deployment activities on the control queue. */
export const control = withSummaries(
  proxyActivities<ControlActivities>({
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '20 seconds',
    retry: { maximumAttempts: 10, initialInterval: '500 milliseconds', maximumInterval: '5 seconds' },
  }),
);

/** How often a paused rollout (and the full-traffic gate, at least) is analysed. */
export const PAUSED_ANALYSIS_INTERVAL_MS = 30_000;

/**
 * Waits one analysis interval, or less when an operator sends abort or promote or pauses or
 * resumes, so commands act within one interval; a paused rollout is analysed less often, so a
 * long pause does not fill the history.
 */
export async function untilNextAnalysis(state: RolloutState, intervalMs: number): Promise<void> {
  const wasPaused = state.paused;
  await condition(
    () =>
      state.abortRequested !== undefined ||
      state.promoteRequested !== undefined ||
      state.paused !== wasPaused,
    state.paused ? PAUSED_ANALYSIS_INTERVAL_MS : intervalMs,
  );
}

/** A model version the rollout routes traffic to. */
export interface ModelRef {
  version: string;
  modelUri: string;
}

/** What a rollout carries into its next run when it continues as new. */
export interface RolloutCarry {
  status: RolloutStatus;
  stable?: ModelRef;
  stepIndex: number;
  bakedMs: number;
  baseline: TrafficSnapshot;
  paused: boolean;
  promoteRequested?: string;
  abortRequested?: string;
}

/** The canaryRollout workflow's argument: a fresh rollout, or one continued as new. */
export type CanaryRolloutInput = RolloutInput & { carry?: RolloutCarry };

/** What the handlers change and the steps read: everything a run carries over, and the gate decision. */
export interface RolloutState {
  /** The object the `status` query returns, mutated in place. */
  status: RolloutStatus;
  paused: boolean;
  /** Who asked to promote, once someone has. */
  promoteRequested: string | undefined;
  /** Who asked to abort (and why), once someone has. */
  abortRequested: string | undefined;
  /** The full-traffic decision, once one has won. */
  gateDecision: Decision | undefined;
  /** The step being baked, an index into rollout.steps. */
  stepIndex: number;
  /** Time baked at the current step, not counting pauses. */
  bakedMs: number;
  /** Traffic counters when the current analysis window began. */
  baseline: TrafficSnapshot | undefined;
}

/** Everything a step of the rollout needs. */
export interface RolloutContext {
  input: CanaryRolloutInput;
  state: RolloutState;
  candidate: ModelRef;
  /** The pipeline that started this rollout, if one did. */
  parent: ParentWorkflowInfo | undefined;
  /** Writes the rollout's current details (the Temporal UI's summary of it). */
  showDetails: () => void;
}

/** A rollout past the first version of its model: there is a stable version to compare with. */
export interface CanaryContext extends RolloutContext {
  stable: ModelRef;
}

/** The context of a run: fresh state, or the state its previous run carried. */
export function createRolloutContext(input: CanaryRolloutInput): RolloutContext {
  const { carry } = input;
  const status: RolloutStatus = carry?.status ?? {
    phase: 'shifting',
    step: 0,
    weight: 0,
    comparisons: [],
    commands: [],
  };
  const state: RolloutState = {
    status,
    paused: carry?.paused ?? false,
    promoteRequested: carry?.promoteRequested,
    abortRequested: carry?.abortRequested,
    gateDecision: status.gate?.decision,
    stepIndex: carry?.stepIndex ?? 0,
    bakedMs: carry?.bakedMs ?? 0,
    baseline: carry?.baseline,
  };
  return {
    input,
    state,
    candidate: { version: input.candidateVersion, modelUri: input.candidateModelUri },
    parent: workflowInfo().parent,
    showDetails: () => setCurrentDetails(rolloutDetailsMarkdown(input, status)),
  };
}

/** Where the rollout is, for messages: `step 2 (25%)`. */
export function where({ status }: RolloutState): string {
  return `step ${status.step} (${status.weight}%)`;
}
