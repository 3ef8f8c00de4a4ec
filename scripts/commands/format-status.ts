/** Human-readable rendering of a pipeline's status for the terminal. */
import type { Decision, ModelMetrics, PipelineStatus } from '../../contracts/temporal';

const metrics = (m: ModelMetrics | undefined) =>
  m ? `AUC ${m.auc.toFixed(4)}, log loss ${m.logLoss.toFixed(4)} (${m.count} eval rows)` : '—';

/** "71h 59m", "12m", "45s": how long until a deadline. */
export function timeLeft(deadline: string, now: Date): string {
  const ms = new Date(deadline).getTime() - now.getTime();
  if (!Number.isFinite(ms)) return '—';
  if (ms <= 0) return 'due now';
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 0) return `${Math.ceil(ms / 1000)}s`;
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours}h ${minutes % 60}m` : `${minutes}m`;
}

const decisionText = (d: Decision) =>
  `${d.kind} by ${d.by}${d.timedOut ? ' (timeout)' : ''}${d.note ? ` (${d.note})` : ''}`;

/** The candidate's spec against production's: one line, then one per change. */
function specChangeLines(status: PipelineStatus): string[] {
  const comparison = status.featureSpecComparison;
  if (!comparison) return [];
  const against = `production v${comparison.productionVersion}`;
  if (comparison.changes.length === 0) return [`  spec:       the same as ${against}'s`];
  return [
    `  spec:       ${comparison.changes.length} change(s) from ${against}'s:`,
    ...comparison.changes.map(
      (change) => `                ${change.change} ${change.subject}: ${change.detail}`,
    ),
  ];
}

export function formatStatus(workflowId: string, status: PipelineStatus, now: Date = new Date()): string {
  const lines = [
    `Pipeline ${workflowId}`,
    `  model:      ${status.modelName}`,
    `  stage:      ${status.stage}${status.message ? ` — ${status.message}` : ''}`,
    ...(status.features ? [`  features:   ${status.features.source} (${status.features.uri})`] : []),
    `  candidate:  ${status.candidateVersion ? `v${status.candidateVersion}` : '—'}  ${metrics(status.candidateMetrics)}`,
    `  production: ${status.productionVersion ? `v${status.productionVersion}` : '—'}  ${metrics(status.productionMetrics)}`,
    ...specChangeLines(status),
  ];
  if (status.pending) {
    const { gate, version, deadline, timeoutOutcome } = status.pending;
    lines.push(
      `  waiting:    ${gate === 'candidate' ? `approval of v${version}` : `approval of 100% traffic for v${version}`}; ` +
        `${timeLeft(deadline, now)} left (until ${deadline}, then ${timeoutOutcome})`,
      `              decide with: mlops pipeline approve|reject ${workflowId} --by <name>`,
    );
  }
  if (status.decision) lines.push(`  decision:   ${decisionText(status.decision)}`);
  if (status.fullTrafficDecision) lines.push(`  100% gate:  ${decisionText(status.fullTrafficDecision)}`);
  if (status.supersededBy)
    lines.push(`  superseded: by v${status.supersededBy.version} (${status.supersededBy.workflowId})`);
  if (status.rollout) {
    lines.push(
      `  rollout:    ${status.rollout.phase}, step ${status.rollout.step}, ${status.rollout.weight}% canary (${status.rolloutWorkflowId ?? '—'})`,
    );
    const { shadow } = status.rollout;
    if (shadow) {
      lines.push(
        `  shadow:     ${shadow.verdict}: v${shadow.shadowVersion} scored ${shadow.requests} copies of stable's requests ` +
          `(${shadow.errors} failed, ${shadow.dropped} dropped; ${shadow.pairs} paired scores, ${shadow.feedback} paired labels) ` +
          `in ${shadow.elapsedSeconds.toFixed(0)} s, serving no one`,
      );
      // While in shadow its checks are the live ones; afterwards the canary's are.
      if (status.rollout.phase === 'shadow' || !status.rollout.live) {
        for (const check of shadow.checks)
          lines.push(`    ${check.metric}: ${check.verdict} — ${check.detail}`);
      }
    }
    for (const check of status.rollout.live?.checks ?? [])
      lines.push(`    ${check.metric}: ${check.verdict} — ${check.detail}`);
  }
  for (const ignored of status.ignoredSignals) lines.push(`  ignored ${ignored.name}: ${ignored.reason}`);
  return lines.join('\n');
}
