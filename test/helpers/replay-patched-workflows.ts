/**
 * Test-only workflow bundle for the replay tests: the same added steps as
 * replay-altered-workflows.ts, behind `patched()`, the way a compatible change looks.
 */
import { patched, sleep } from '@temporalio/workflow';
import { canaryRollout as currentCanary } from '../../workflows/canary/canary-rollout';
import { modelPipeline as currentPipeline } from '../../workflows/pipeline/model-pipeline';
import { modelRollback as currentRollback } from '../../workflows/model-rollback';
import { batchPredict as currentBatchPredict } from '../../workflows/batch-predict';
import { modelMonitor as currentMonitor } from '../../workflows/model-monitor';
import type { BatchPredictInput } from '../../contracts/batch-predict';
import type { MonitorInput } from '../../contracts/monitor';
import type { PipelineInput, RollbackInput } from '../../contracts/temporal';

const PATCH_ID = 'replay-test-extra-timer';

/** The current pipeline, with the new timer only in workflows that start after the change. */
export async function modelPipeline(input: PipelineInput): ReturnType<typeof currentPipeline> {
  if (patched(PATCH_ID)) await sleep(1_000);
  return currentPipeline(input);
}

/** The current canary, with the same patched timer. */
export async function canaryRollout(
  ...args: Parameters<typeof currentCanary>
): ReturnType<typeof currentCanary> {
  if (patched(PATCH_ID)) await sleep(1_000);
  return currentCanary(...args);
}

/** The current rollback, with the same patched timer. */
export async function modelRollback(input: RollbackInput): ReturnType<typeof currentRollback> {
  if (patched(PATCH_ID)) await sleep(1_000);
  return currentRollback(input);
}

/** The current batch prediction, with the same patched timer. */
export async function batchPredict(input: BatchPredictInput): ReturnType<typeof currentBatchPredict> {
  if (patched(PATCH_ID)) await sleep(1_000);
  return currentBatchPredict(input);
}

/** The current monitor, with the same patched timer at the start of every run (continued ones too). */
export async function modelMonitor(input: MonitorInput): ReturnType<typeof currentMonitor> {
  if (patched(PATCH_ID)) await sleep(1_000);
  return currentMonitor(input);
}
