/** Tells the pipeline that started a rollout when its full-traffic gate opens and closes. Workflow-safe. */
import { getExternalWorkflowHandle } from '@temporalio/workflow';
import type { RolloutContext } from './context';
import { fullTrafficGateSignal, type Decision } from '../../contracts/temporal';

/** Tells the pipeline that the gate opened, or closed (with the winning decision, if one won). */
export async function notifyParent(
  { parent, state }: RolloutContext,
  gateState: 'waiting' | 'closed',
  extra: { deadline?: string; decision?: Decision } = {},
): Promise<void> {
  if (!parent) return;
  try {
    await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(fullTrafficGateSignal, {
      state: gateState,
      weight: state.status.weight,
      ...extra,
    });
  } catch {
    // A pipeline that is gone cannot be told; the gate still works by signalling this workflow.
  }
}
