/** Human-readable rendering of a pipeline's status for the terminal. */
import type { ModelMetrics, PipelineStatus } from '../../workflows/definitions';

const metrics = (m: ModelMetrics | undefined) =>
  m ? `AUC ${m.auc.toFixed(4)}, log loss ${m.logLoss.toFixed(4)} (${m.count} eval rows)` : '—';

export function formatStatus(workflowId: string, status: PipelineStatus): string {
  const lines = [
    `Pipeline ${workflowId}`,
    `  model:      ${status.modelName}`,
    `  stage:      ${status.stage}${status.message ? ` — ${status.message}` : ''}`,
    `  candidate:  ${status.candidateVersion ? `v${status.candidateVersion}` : '—'}  ${metrics(status.candidateMetrics)}`,
    `  production: ${status.productionVersion ? `v${status.productionVersion}` : '—'}  ${metrics(status.productionMetrics)}`,
  ];
  if (status.decision)
    lines.push(
      `  decision:   ${status.decision.kind} by ${status.decision.by}${status.decision.note ? ` (${status.decision.note})` : ''}`,
    );
  if (status.rollout) {
    lines.push(
      `  rollout:    ${status.rollout.phase}, step ${status.rollout.step}, ${status.rollout.weight}% canary`,
    );
    for (const check of status.rollout.live?.checks ?? [])
      lines.push(`    ${check.metric}: ${check.verdict} — ${check.detail}`);
  }
  for (const ignored of status.ignoredSignals) lines.push(`  ignored ${ignored.name}: ${ignored.reason}`);
  return lines.join('\n');
}
