/** Human-readable rendering of model registry records for the terminal: overviews, version tables, details. */
import type { ModelAliases, ModelVersionRecord } from '../../lib/registry';
import { METRICS, type MetricDefinition } from '../../contracts/metric-catalog';
import { formatTable } from './format-table';

/** One model in the overview: its aliases and every version, oldest first. */
export interface ModelSummary {
  model: string;
  aliases: ModelAliases;
  versions: ModelVersionRecord[];
}

const NONE = '—';

/** An ISO date as `YYYY-MM-DD HH:MM` (or `…:SS`) UTC, or the input when it is not a date. */
export function formatDate(iso: string | undefined, { seconds = false } = {}): string {
  if (!iso) return NONE;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date
    .toISOString()
    .slice(0, seconds ? 19 : 16)
    .replace('T', ' ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberAt(source: unknown, key: string): number | undefined {
  if (!isRecord(source)) return undefined;
  const value = source[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function stringAt(source: unknown, key: string): string | undefined {
  if (!isRecord(source)) return undefined;
  const value = source[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

const fixed = (value: number | undefined, digits = 4) => (value === undefined ? NONE : value.toFixed(digits));
const percent = (value: number | undefined) => (value === undefined ? NONE : `${(value * 100).toFixed(1)}%`);

/** The candidate's overall metrics: `metrics.candidate`, or the flat shape older records used. */
export function candidateMetrics(metrics: Record<string, unknown>): Record<string, unknown> | undefined {
  if (isRecord(metrics.candidate)) return metrics.candidate;
  return numberAt(metrics, 'auc') !== undefined ? metrics : undefined;
}

/** Which aliases point at a version: "production", "previous" or "". */
export function aliasesOf(version: string, aliases: ModelAliases): string {
  return [
    ...(aliases.production === version ? ['production'] : []),
    ...(aliases.previous === version ? ['previous'] : []),
  ].join(', ');
}

function approvers(record: ModelVersionRecord): string {
  const names = new Set((record.approvals ?? []).filter((a) => a.decision === 'approved').map((a) => a.by));
  return names.size > 0 ? [...names].join(', ') : NONE;
}

/** The overview of every model: versions, production and previous, the latest version. */
export function formatModelsTable(models: ModelSummary[]): string {
  if (models.length === 0)
    return 'No models in the registry yet. Run a pipeline: mlops pipeline start --model NAME --data URI';
  const rows = models.map(({ model, aliases, versions }) => {
    const latest = versions.at(-1);
    return [
      model,
      String(versions.length),
      aliases.production ? `v${aliases.production}` : NONE,
      aliases.previous ? `v${aliases.previous}` : NONE,
      latest ? `v${latest.version} (${latest.status}, ${formatDate(latest.createdAt)})` : NONE,
    ];
  });
  return formatTable(['MODEL', 'VERSIONS', 'PRODUCTION', 'PREVIOUS', 'LATEST'], rows);
}

/** One model's versions, newest first. */
export function formatVersionsTable(versions: ModelVersionRecord[], aliases: ModelAliases): string {
  const rows = [...versions]
    .sort((a, b) => Number(b.version) - Number(a.version))
    .map((record) => {
      const candidate = candidateMetrics(record.metrics ?? {});
      return [
        `v${record.version}`,
        record.status,
        aliasesOf(record.version, aliases) || NONE,
        formatDate(record.createdAt),
        fixed(numberAt(candidate, 'auc')),
        fixed(numberAt(candidate, 'logLoss')),
        approvers(record),
        record.lineage?.run?.workflowId ?? stringAt(record, 'workflowId') ?? NONE,
      ];
    });
  return formatTable(
    ['VERSION', 'STATUS', 'ALIASES', 'CREATED (UTC)', 'AUC', 'LOG LOSS', 'APPROVED BY', 'WORKFLOW'],
    rows,
  );
}

function describeMetrics(metrics: unknown): string {
  // Records written before a metric existed lack it: it is left out, not shown as missing.
  const parts = METRICS.flatMap((metric: MetricDefinition) => {
    const value = numberAt(metrics, metric.key);
    if (value === undefined) return [];
    return [`${metric.label} ${metric.asPercent ? percent(value) : fixed(value)}`];
  });
  const count = numberAt(metrics, 'count');
  if (count !== undefined) parts.push(`${count} eval rows`);
  return parts.join(', ');
}

/** Per-slice rows from `metrics.slices`: evaluation's array of comparisons, or a map of name → metrics. */
function sliceRows(slices: unknown): string[][] {
  const entries: Array<[string, unknown]> = Array.isArray(slices)
    ? slices.map((slice) => {
        const feature = stringAt(slice, 'feature');
        const value = stringAt(slice, 'value');
        const name = feature && value ? `${feature}=${value}` : (stringAt(slice, 'name') ?? '?');
        return [name, slice];
      })
    : isRecord(slices)
      ? Object.entries(slices)
      : [];
  return entries.map(([name, slice]) => {
    const candidate = isRecord(slice) && isRecord(slice.candidate) ? slice.candidate : slice;
    const production = isRecord(slice) ? slice.production : undefined;
    return [
      name,
      numberAt(slice, 'count')?.toString() ?? NONE,
      percent(numberAt(slice, 'clickRate')),
      fixed(numberAt(candidate, 'auc')),
      fixed(numberAt(candidate, 'logLoss')),
      fixed(numberAt(production, 'auc')),
      fixed(numberAt(production, 'logLoss')),
    ];
  });
}

const indent = (text: string, spaces: number) =>
  text
    .split('\n')
    .map((line) => (line ? ' '.repeat(spaces) + line : line))
    .join('\n');

/** Everything the registry knows about one version: status, aliases, decisions, metrics, lineage. */
export function formatVersionDetails(record: ModelVersionRecord, aliases: ModelAliases): string {
  const metrics = record.metrics ?? {};
  const lines: string[] = [];
  const onAliases = aliasesOf(record.version, aliases);
  lines.push(
    `${record.model} v${record.version}: status ${record.status}${onAliases ? `; alias ${onAliases}` : ''}`,
  );
  lines.push(`  created:  ${formatDate(record.createdAt, { seconds: true })} UTC`);
  lines.push(`  model:    ${record.modelUri}`);
  const reports = [
    stringAt(metrics, 'reportUrl'),
    stringAt(metrics, 'reportHtmlUri'),
    stringAt(metrics, 'reportMarkdownUri'),
    stringAt(metrics, 'reportUri'),
  ];
  const shownReports = [...new Set(reports.filter((report): report is string => report !== undefined))];
  lines.push(`  report:   ${shownReports.length > 0 ? shownReports.join('\n            ') : NONE}`);
  lines.push(
    `  aliases:  production ${aliases.production ? `v${aliases.production}` : NONE}, previous ${aliases.previous ? `v${aliases.previous}` : NONE}`,
  );

  lines.push('', 'Metrics');
  const candidate = candidateMetrics(metrics);
  lines.push(`  candidate:  ${candidate ? describeMetrics(candidate) : NONE}`);
  if (isRecord(metrics.production)) {
    const version = stringAt(metrics.production, 'version');
    lines.push(
      `  production: ${describeMetrics(metrics.production)}${version ? ` (v${version} at evaluation)` : ''}`,
    );
  }
  if (isRecord(metrics.bestPossible) && typeof metrics.bestPossible.auc === 'number') {
    // Synthetic data knows the true click probabilities: the AUC no model can beat.
    lines.push(`  best possible (true probabilities): AUC ${metrics.bestPossible.auc.toFixed(4)}`);
  }
  const slices = sliceRows(metrics.slices);
  if (slices.length > 0) {
    lines.push('  slices:');
    lines.push(
      indent(
        formatTable(['SLICE', 'ROWS', 'CLICKS', 'AUC', 'LOG LOSS', 'PROD AUC', 'PROD LOG LOSS'], slices),
        4,
      ),
    );
  }

  lines.push('', 'Approvals');
  const approvals = record.approvals ?? [];
  if (approvals.length === 0) lines.push('  none');
  for (const approval of approvals) {
    lines.push(
      `  ${formatDate(approval.at, { seconds: true })}  ${approval.decision} by ${approval.by} at the ${approval.gate} gate${approval.note ? `: ${approval.note}` : ''}`,
    );
  }

  lines.push('', 'History');
  const events = [
    ...(record.history ?? []).map((change) => ({
      at: change.at,
      text: `${change.status}${change.by ? ` by ${change.by}` : ''}${change.note ? `: ${change.note}` : ''}`,
    })),
    ...aliases.history
      .filter((change) => change.production === record.version || change.previous === record.version)
      .map((change) => ({
        at: change.at,
        text:
          (change.production === record.version
            ? `production alias set${change.previous ? `, replacing v${change.previous}` : ''}`
            : `production alias moved to v${change.production}`) +
          `${change.by ? ` by ${change.by}` : ''}${change.reason ? `: ${change.reason}` : ''}`,
      })),
  ];
  // Stable: a status change and the alias change written in the same minute keep their order.
  events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  for (const event of events) lines.push(`  ${formatDate(event.at, { seconds: true })}  ${event.text}`);

  lines.push('', 'Lineage');
  const lineage = record.lineage;
  if (!lineage) {
    // Records from before lineage kept a few of its fields at the top level.
    lines.push('  not recorded (registered before lineage was)');
    for (const [label, key] of [
      ['data', 'dataUri'],
      ['fingerprint', 'datasetFingerprint'],
      ['workflow', 'workflowId'],
      ['run', 'runId'],
    ] as const) {
      const value = stringAt(record, key);
      if (value) lines.push(`  ${`${label}:`.padEnd(12)} ${value}`);
    }
    return lines.join('\n');
  }
  const { data, code, training, run } = lineage;
  lines.push(`  data:      ${data.uri}`);
  lines.push(`    fingerprint ${data.fingerprint}, schema v${data.schemaVersion}`);
  lines.push(`    train     ${data.trainUri} (${data.trainRows} rows)`);
  lines.push(`    eval      ${data.evalUri} (${data.evalRows} rows)`);
  if (data.planUri) lines.push(`    shards    ${data.shardCount ?? '?'}, plan ${data.planUri}`);
  if (data.statisticsUri) lines.push(`    stats     ${data.statisticsUri}`);
  for (const warning of data.warnings ?? []) lines.push(`    warning   ${warning}`);
  const commit = code.gitCommit
    ? `commit ${code.gitCommit}${code.gitDirty ? ' with uncommitted changes' : ''}`
    : 'commit unknown';
  lines.push(`  code:      temporal-mlops ${code.packageVersion}, ${commit}`);
  const finalLoss = training.finalLoss === undefined ? '' : `, final loss ${training.finalLoss.toFixed(4)}`;
  lines.push(`  training:  ${training.backend} on ${training.device}, ${training.epochs} epochs${finalLoss}`);
  lines.push(`  run:       ${run.workflowType} ${run.workflowId} (run ${run.runId})`);
  lines.push('  config:');
  lines.push(indent(JSON.stringify(lineage.config, null, 2) ?? 'null', 4));
  return lines.join('\n');
}
