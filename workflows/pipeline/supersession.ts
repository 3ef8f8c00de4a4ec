/**
 * A newly registered candidate supersedes every older candidate of its model still waiting for
 * approval: this module tells the older pipelines, and ends a pipeline whose candidate became moot.
 * Workflow-safe.
 */
import { getExternalWorkflowHandle, setCurrentDetails } from '@temporalio/workflow';
import type { ControlActivities } from '../../activities/index';
import {
  supersedeSignal,
  type ModelMetrics,
  type PipelineResult,
  type SupersedePayload,
} from '../../contracts/temporal';
import type { PipelineContext } from './context';

/** Tells each older candidate's pipeline that `newer` replaces it; pipelines already ended are skipped. */
export async function supersedeOlderCandidates(
  olderCandidates: Awaited<ReturnType<ControlActivities['registerModelVersion']>>['olderCandidates'],
  newer: SupersedePayload,
): Promise<void> {
  // The newest candidate is the one to review: older ones still waiting end, saying why.
  for (const older of olderCandidates) {
    try {
      await getExternalWorkflowHandle(older.workflowId, older.runId).signal(supersedeSignal, {
        version: newer.version,
        workflowId: newer.workflowId,
      });
    } catch {
      // That pipeline has already ended; nothing to supersede.
    }
  }
}

/** Why `version` will not be decided on: the newer version that replaced it. */
export function supersededMessage(version: string, supersededBy: SupersedePayload): string {
  return `v${version} was superseded by v${supersededBy.version} (workflow ${supersededBy.workflowId}) before a decision; review v${supersededBy.version} instead`;
}

/** Ends the pipeline cleanly when a newer version made this candidate moot: archived, stage `superseded`. */
export async function endSuperseded(
  { input, tracker, activities }: PipelineContext,
  candidate: { version: string; metrics: ModelMetrics },
  message: string,
): Promise<PipelineResult> {
  const { modelName } = input;
  const { version } = candidate;
  tracker.status.pending = undefined;
  await activities.control.setModelVersionStatus({
    model: modelName,
    version,
    status: 'archived',
    by: 'pipeline',
    note: message,
  });
  tracker.enterStage('superseded', message);
  setCurrentDetails(`${modelName}: ${message}.`);
  return { modelName, version, outcome: 'superseded', metrics: candidate.metrics, message };
}
