/** The Markdown a reviewer sees in the Web UI while a candidate waits for a decision. Pure. */
import type { ModelMetrics } from './definitions';

export interface ApprovalDetailsInput {
  modelName: string;
  candidateVersion: string;
  candidate: ModelMetrics;
  production?: ModelMetrics & { version: string };
  warnings: string[];
  deadline: string;
  reportUri: string;
}

const fixed = (value: number | undefined) => (value === undefined ? '—' : value.toFixed(4));

export function approvalDetailsMarkdown(input: ApprovalDetailsInput): string {
  const { candidate, production } = input;
  const lines = [
    `## ${input.modelName} v${input.candidateVersion} is waiting for approval`,
    '',
    `| metric | candidate v${input.candidateVersion} | production ${production ? `v${production.version}` : '(none)'} |`,
    '|---|---|---|',
    `| AUC | ${fixed(candidate.auc)} | ${fixed(production?.auc)} |`,
    `| log loss | ${fixed(candidate.logLoss)} | ${fixed(production?.logLoss)} |`,
    `| eval rows | ${candidate.count} | ${production?.count ?? '—'} |`,
    '',
    input.warnings.length > 0
      ? `**Data warnings:**\n${input.warnings.map((w) => `- ${w}`).join('\n')}`
      : 'No data warnings.',
    '',
    `Decide before ${input.deadline} (then it is rejected). Evaluation report: \`${input.reportUri}\``,
    '',
    'To decide: **Send a Signal** → `approve` with `{"by": "your name", "comment": "…"}` or `reject` with `{"by": "your name", "reason": "…"}`.',
  ];
  return lines.join('\n');
}
