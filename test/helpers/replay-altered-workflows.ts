/**
 * Test-only workflow bundle for the replay tests: today's pipeline with one step added before its
 * first, the way an incompatible change looks. Replaying a recorded history against it must fail.
 */
import { sleep } from '@temporalio/workflow';
import { modelPipeline as currentPipeline } from '../../workflows/model-pipeline';
import type { PipelineInput } from '../../workflows/definitions';

export { canaryRollout } from '../../workflows/canary-rollout';

/** The current pipeline, after a new one-second timer that no recorded history has. */
export async function modelPipeline(input: PipelineInput): ReturnType<typeof currentPipeline> {
  await sleep(1_000);
  return currentPipeline(input);
}
