/** The Markdown the Web UI shows for a running canary: the live comparison and every finished step. Pure. */
import type {
  CanaryComparison,
  RolloutInput,
  RolloutStatus,
  ShadowComparison,
} from '../../contracts/temporal';

const ms = (value: number | undefined) => (value === undefined ? '—' : `${value.toFixed(1)} ms`);
const loss = (value: number | undefined, labels: number) =>
  value === undefined ? '—' : `${value.toFixed(4)} (${labels})`;

function comparisonRows(label: string, c: CanaryComparison): string[] {
  return [
    `| ${label} | ${c.weight}% | ${c.stable.requests} / ${c.canary.requests} | ${(c.stable.errorRate * 100).toFixed(2)}% / ${(c.canary.errorRate * 100).toFixed(2)}% | ` +
      `${ms(c.stable.p99LatencyMs)} / ${ms(c.canary.p99LatencyMs)} | ${c.scoreDivergence?.toFixed(3) ?? '—'} | ` +
      `${loss(c.stable.onlineLogLoss, c.stable.feedback)} / ${loss(c.canary.onlineLogLoss, c.canary.feedback)} | ${c.verdict} |`,
  ];
}

const signed = (value: number | undefined) =>
  value === undefined ? '—' : `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(4)}`;

/** The shadow step: the candidate against stable on the same requests, before it served anyone. */
export function shadowDetailsLines(shadow: ShadowComparison): string[] {
  return [
    `### Shadow: v${shadow.shadowVersion} scored copies of stable v${shadow.stableVersion}'s requests for ${shadow.elapsedSeconds.toFixed(0)} s (served no one): ${shadow.verdict}`,
    '',
    '| mirrored | errors | dropped | paired scores | mean score shift | paired labels | mean log-loss difference |',
    '|---|---|---|---|---|---|---|',
    `| ${shadow.requests} | ${shadow.errors} | ${shadow.dropped} | ${shadow.pairs} | ${signed(shadow.meanScoreShift)} | ${shadow.feedback} | ${signed(shadow.meanLogLossDifference)} |`,
    '',
    ...shadow.checks.map((check) => `- ${check.metric}: **${check.verdict}** — ${check.detail}`),
  ];
}

export function rolloutDetailsMarkdown(input: RolloutInput, status: RolloutStatus): string {
  const rows = [
    ...status.comparisons.flatMap((c) => comparisonRows(`step ${c.step}`, c)),
    ...(status.live && !status.comparisons.includes(status.live)
      ? comparisonRows(`step ${status.live.step} (live)`, status.live)
      : []),
  ];
  const lines = [
    `## Canary ${input.modelName} v${input.candidateVersion} vs stable v${status.stableVersion ?? '—'}: ${status.phase}, ${status.weight}% of traffic`,
    '',
    '| step | weight | requests stable / canary | errors | p99 latency | score JS divergence | online log loss (labels) | verdict |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ];
  if (status.live?.verdict === 'fail' || status.live?.verdict === 'pass')
    lines.push('', `Latest: ${status.live.reason}`);
  if (status.shadow) lines.push('', ...shadowDetailsLines(status.shadow));
  if (status.gate && !status.gate.decision) {
    lines.push(
      '',
      `**Waiting for approval to send 100% of traffic** (until ${status.gate.deadline}). ` +
        'Send a Signal `approve` with `{"by": "your name"}` (or `reject`) to this workflow or its pipeline, ' +
        'or run `mlops pipeline approve <pipeline id> --by <name>`.',
    );
  } else if (status.gate?.decision) {
    const d = status.gate.decision;
    lines.push('', `Full traffic ${d.kind} by ${d.by}${d.note ? ` (${d.note})` : ''} at ${d.at}.`);
  }
  if (status.commands.length > 0) {
    lines.push(
      '',
      ...status.commands.map(
        (c) => `- ${c.at} ${c.command} by ${c.by}${c.reason ? ` (${c.reason})` : ''}: ${c.outcome}`,
      ),
    );
  }
  lines.push(
    '',
    'Manual control: **Send a Signal** `pause`, `resume`, `promote` or `abort` with `{"by": "your name"}`.',
  );
  return lines.join('\n');
}
