/**
 * Test-only workflow bundle for the replay tests: the same added step as
 * replay-altered-workflows.ts, behind `patched()`, the way a compatible change looks.
 */
import { patched, sleep } from '@temporalio/workflow';
import { modelPipeline as currentPipeline } from '../../workflows/model-pipeline';
import type { PipelineInput } from '../../workflows/definitions';

export { canaryRollout } from '../../workflows/canary-rollout';

/** The current pipeline, with the new timer only in workflows that start after the change. */
export async function modelPipeline(input: PipelineInput): ReturnType<typeof currentPipeline> {
  if (patched('replay-test-extra-timer')) await sleep(1_000);
  return currentPipeline(input);
}
