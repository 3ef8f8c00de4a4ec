/** What the history-recording scenarios share: configurations, their context and outcome checks. */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { PipelineConfigInput } from '../../../contracts/pipeline-config';
import { type PipelineResult } from '../../../contracts/temporal';
import { type PipelineEnv, TINY_PIPELINE_CONFIG } from '../../../test/helpers/pipeline-env';
import { eventually } from '../../../test/helpers/eventually';

/** Small and fast, like the end-to-end tests': one epoch, a two-step canary. */
export const CONFIG: PipelineConfigInput = TINY_PIPELINE_CONFIG;
/** No reviewer: the pipeline approves itself and goes straight to its canary. */
export const NO_APPROVAL: PipelineConfigInput = { ...CONFIG, approval: { required: false } };
/** No reviewer and a one-step canary that needs no traffic: in production as soon as it is trained. */
export const DEPLOY_AT_ONCE: PipelineConfigInput = {
  ...NO_APPROVAL,
  rollout: { steps: [{ weight: 100, bakeSeconds: 0, minRequests: 0 }], maxWaitSeconds: 60 },
};
export const STAGE_TIMEOUT = { timeoutMs: 300_000 };
/** Simulated requests per second while a canary needs traffic to judge. */
export const TRAFFIC_RATE = 40;

export interface ScenarioContext {
  env: PipelineEnv;
  /** The tiny dataset every pipeline trains on. */
  dataUri: string;
  /** Starts a pipeline on the tiny dataset, as `history-<scenario>` or `history-<scenario>-<suffix>`. */
  start: (config?: PipelineConfigInput, suffix?: string) => Promise<WorkflowHandle>;
  /** Runs `body` while simulated clients call the prediction API, so a canary has data to judge. */
  withTraffic: <T>(body: () => Promise<T>) => Promise<T>;
}

/** What must already be in the registry before a scenario starts. */
export type Needs = 'nothing' | 'production' | 'previous';

export interface Scenario {
  name: string;
  /**
   * `production`: a version serves production, so the canary has a stable to compare with;
   * `previous`: also an earlier production version that a rollback can restore.
   */
  needs: Needs;
  /**
   * Drives the workflows to record to their end; throws when they end otherwise than the scenario
   * says. Returns the workflow to save (its latest run), or several runs of workflows.
   */
  run(context: ScenarioContext): Promise<WorkflowHandle | RecordedRun[]>;
}

/** One run a scenario saves, as `<scenario>.<workflowType><suffix>.json`, with its children. */
export interface RecordedRun {
  workflowId: string;
  runId: string;
  /** Tells apart several runs of one workflow type in a scenario, e.g. `-stopped`. */
  suffix?: string;
}

/** Polls like the tests' eventually(), but as patient as a whole pipeline run. */
export function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 300_000): Promise<T> {
  return eventually(probe, what, timeoutMs);
}

export async function result(handle: WorkflowHandle): Promise<PipelineResult | WorkflowFailedError> {
  try {
    return (await handle.result()) as PipelineResult;
  } catch (err) {
    if (err instanceof WorkflowFailedError) return err;
    throw err;
  }
}

export function expectOutcome(
  ended: PipelineResult | WorkflowFailedError,
  outcome: PipelineResult['outcome'],
): void {
  if (ended instanceof WorkflowFailedError)
    throw new Error(`expected outcome ${outcome}, but the pipeline failed: ${ended.cause?.message}`);
  if (ended.outcome !== outcome) throw new Error(`expected outcome ${outcome}, got ${ended.outcome}`);
}

export function expectFailure(ended: PipelineResult | WorkflowFailedError, message: RegExp): void {
  if (!(ended instanceof WorkflowFailedError))
    throw new Error(`expected a failure matching ${message}, but the pipeline ended ${ended.outcome}`);
  if (!message.test(ended.cause?.message ?? ''))
    throw new Error(`expected a failure matching ${message}, got: ${ended.cause?.message}`);
}
