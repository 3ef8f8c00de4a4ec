/** The Markdown a reviewer sees in the Web UI while a candidate waits for a decision. Pure and workflow-safe. */
import {
  isSliceRegression,
  SLICE_AUC_REGRESSION,
  type EvaluationSummary,
  type SliceComparison,
} from '../../contracts/evaluation';
import { featureSpecComparisonMarkdown } from '../../contracts/feature-spec-diff';
import { escapeMarkdown } from '../../contracts/markdown';
import { bestPossibleSentence, formatDelta, formatMetric, METRICS } from '../../contracts/metric-catalog';

/** What the reviewer's Markdown is made from. */
export interface ApprovalDetailsInput {
  modelName: string;
  candidateVersion: string;
  evaluation: EvaluationSummary;
  /** Data validation warnings. */
  warnings: string[];
  deadline: Date;
  /** Time left is `deadline - now`. */
  now: Date;
  /** What happens when nobody decides before the deadline. */
  timeoutOutcome: 'reject' | 'approve';
  /** HTTP link to the report route, when known; else the report's store URI is shown. */
  reportUrl?: string;
  /** The pipeline's workflow id, so the CLI command shown can be pasted as is. */
  workflowId?: string;
}

/** Slice rows shown at most; flagged slices first, then the largest. The report has them all. */
export const MAX_SLICE_ROWS = 12;
/** Data warnings listed at most. */
export const MAX_WARNINGS = 10;

/** Time left as whole hours and minutes: "71h 59m", "12m", "<1m"; "0m" once past. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0m';
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 0) return '<1m';
  const hours = Math.floor(minutes / 60);
  return hours > 0 ? `${hours}h ${minutes % 60}m` : `${minutes}m`;
}

function overallTable(candidateVersion: string, evaluation: EvaluationSummary): string[] {
  const { candidate, production } = evaluation;
  if (!production) {
    return [
      `| metric | candidate v${candidateVersion} |`,
      '|---|---:|',
      ...METRICS.map(({ key, label }) => `| ${label} | ${formatMetric(candidate[key])} |`),
      `| eval rows | ${candidate.count} |`,
      '',
      'No production model to compare against.',
    ];
  }
  return [
    `| metric | candidate v${candidateVersion} | production v${escapeMarkdown(production.version)} | Δ |`,
    '|---|---:|---:|---:|',
    ...METRICS.map(
      ({ key, label }) =>
        `| ${label} | ${formatMetric(candidate[key])} | ${formatMetric(production[key])} | ${formatDelta(candidate[key], production[key])} |`,
    ),
    `| eval rows | ${candidate.count} | ${production.count} | |`,
  ];
}

function sliceTable(slices: SliceComparison[], withProduction: boolean): string[] {
  if (slices.length === 0) return [];
  const flagged = slices.filter(isSliceRegression);
  // Flagged slices are never dropped; the rest are filled in largest first.
  const shown = new Set(flagged.slice(0, MAX_SLICE_ROWS));
  for (const slice of [...slices].sort((a, b) => b.count - a.count)) {
    if (shown.size >= MAX_SLICE_ROWS) break;
    shown.add(slice);
  }
  const name = (slice: SliceComparison) => `${slice.feature}=${escapeMarkdown(slice.value)}`;
  const lines = withProduction
    ? [
        '| slice | rows | candidate AUC | production AUC | Δ |',
        '|---|---:|---:|---:|---:|',
        ...slices
          .filter((slice) => shown.has(slice))
          .map(
            (slice) =>
              `| ${isSliceRegression(slice) ? '⚠ ' : ''}${name(slice)} | ${slice.count} | ${formatMetric(slice.candidate.auc)} | ` +
              `${formatMetric(slice.production?.auc)} | ${formatDelta(slice.candidate.auc, slice.production?.auc)} |`,
          ),
      ]
    : [
        '| slice | rows | candidate AUC |',
        '|---|---:|---:|',
        ...slices
          .filter((slice) => shown.has(slice))
          .map((slice) => `| ${name(slice)} | ${slice.count} | ${formatMetric(slice.candidate.auc)} |`),
      ];
  if (shown.size < slices.length) {
    lines.push('', `${slices.length - shown.size} smaller slices are in the full report.`);
  }
  if (flagged.length > 0) {
    lines.push(
      '',
      `**⚠ ${flagged.length} slice${flagged.length === 1 ? '' : 's'} where the candidate's AUC is more than ` +
        `${SLICE_AUC_REGRESSION} below production:** ${flagged.map(name).join(', ')}`,
    );
  }
  return ['', '**By slice** (AUC; — where a slice has only one label)', '', ...lines];
}

function warningLines(warnings: string[]): string[] {
  if (warnings.length === 0) return ['No data warnings.'];
  const lines = [
    '**Data warnings:**',
    ...warnings.slice(0, MAX_WARNINGS).map((w) => `- ${escapeMarkdown(w)}`),
  ];
  if (warnings.length > MAX_WARNINGS) lines.push(`- … and ${warnings.length - MAX_WARNINGS} more`);
  return lines;
}

/** The reviewer's view: metrics against production, slices, warnings, time left, the report and how to decide. */
export function approvalDetailsMarkdown(input: ApprovalDetailsInput): string {
  const { evaluation } = input;
  const outcome = input.timeoutOutcome === 'approve' ? 'approved' : 'rejected';
  const left = input.deadline.getTime() - input.now.getTime();
  const deadline = input.deadline.toISOString();
  // The route answers the HTML page by default; reports from before it existed have only Markdown.
  const report = input.reportUrl
    ? evaluation.reportHtmlUri
      ? `Evaluation report (HTML): [${input.reportUrl}](${input.reportUrl}) · [Markdown](${input.reportUrl}?format=md)`
      : `Evaluation report: [${input.reportUrl}](${input.reportUrl})`
    : evaluation.reportHtmlUri
      ? `Evaluation report (HTML): \`${evaluation.reportHtmlUri}\``
      : `Evaluation report: \`${evaluation.reportMarkdownUri}\``;
  const best = bestPossibleSentence(evaluation);
  const id = input.workflowId ?? '<workflow-id>';
  const lines = [
    `## ${escapeMarkdown(input.modelName)} v${input.candidateVersion} is waiting for approval`,
    '',
    ...overallTable(input.candidateVersion, evaluation),
    ...(best ? ['', best] : []),
    ...sliceTable(evaluation.slices, evaluation.production !== undefined),
    ...(evaluation.featureSpec ? ['', ...featureSpecComparisonMarkdown(evaluation.featureSpec)] : []),
    ...(evaluation.failures.length > 0
      ? ['', '**Failed thresholds:**', ...evaluation.failures.map((f) => `- ${escapeMarkdown(f)}`)]
      : []),
    '',
    ...warningLines(input.warnings),
    '',
    left > 0
      ? `**Time left: ${formatDuration(left)}** (until ${deadline}); then it is ${outcome} automatically.`
      : `**The deadline (${deadline}) has passed**; it is being ${outcome} automatically.`,
    '',
    report,
    '',
    '**To decide:** **Send a Signal** → `approve` with `{"by": "your name", "comment": "…"}` ' +
      'or `reject` with `{"by": "your name", "reason": "…"}`; or run ' +
      `\`mlops pipeline approve ${id} --by <name>\` / \`mlops pipeline reject ${id} --by <name> --reason "…"\`.`,
  ];
  return lines.join('\n');
}
