/**
 * Test-only workflow bundle for the replay tests: today's workflows, each with one step added
 * before its first, the way an incompatible change looks. Replaying any recorded history against
 * it must fail.
 */
import { sleep } from '@temporalio/workflow';
import { canaryRollout as currentCanary } from '../../workflows/canary/canary-rollout';
import { modelPipeline as currentPipeline } from '../../workflows/pipeline/model-pipeline';
import { modelRollback as currentRollback } from '../../workflows/model-rollback';
import { batchPredict as currentBatchPredict } from '../../workflows/batch-predict';
import { modelMonitor as currentMonitor } from '../../workflows/model-monitor';
import type { BatchPredictInput } from '../../contracts/batch-predict';
import type { MonitorInput } from '../../contracts/monitor';
import type { PipelineInput, RollbackInput } from '../../contracts/temporal';

/** The current pipeline, after a new one-second timer that no recorded history has. */
export async function modelPipeline(input: PipelineInput): ReturnType<typeof currentPipeline> {
  await sleep(1_000);
  return currentPipeline(input);
}

/** The current canary, after the same new timer. */
export async function canaryRollout(
  ...args: Parameters<typeof currentCanary>
): ReturnType<typeof currentCanary> {
  await sleep(1_000);
  return currentCanary(...args);
}

/** The current rollback, after the same new timer. */
export async function modelRollback(input: RollbackInput): ReturnType<typeof currentRollback> {
  await sleep(1_000);
  return currentRollback(input);
}

/** The current batch prediction, after the same new timer. */
export async function batchPredict(input: BatchPredictInput): ReturnType<typeof currentBatchPredict> {
  await sleep(1_000);
  return currentBatchPredict(input);
}

/** The current monitor, after the same new timer at the start of every run (continued ones too). */
export async function modelMonitor(input: MonitorInput): ReturnType<typeof currentMonitor> {
  await sleep(1_000);
  return currentMonitor(input);
}
