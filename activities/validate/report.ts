/** The Markdown report of a data validation: verdict, anomalies, drift, then every feature's statistics. */
import { percent, type Anomaly } from '../../lib/dataset/anomalies';
import type { DriftResult } from '../../contracts/drift';
import type { DatasetStatistics } from '../../lib/dataset/statistics';

export interface ValidationReportInput {
  dataUri: string;
  statistics: DatasetStatistics;
  statisticsUri: string;
  /** Critical first. */
  anomalies: readonly Anomaly[];
  rowsRead: number;
  quarantinedRows: number;
  quarantineUri: string;
  schemaUri?: string;
  /** True when this run inferred the schema (the model's first dataset). */
  schemaCreated: boolean;
  baselineStatisticsUri?: string;
  drift?: DriftResult;
  /** Things a reader should know that are not anomalies (a check that was skipped, and why). */
  notes: readonly string[];
}

/** Escapes a table cell: pipes and newlines would break the table. */
function cell(value: unknown): string {
  return String(value)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .replace(/\|/g, '\\|');
}

function table(header: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

const number = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(4));

function summarySection(input: ValidationReportInput): string {
  const { statistics: stats } = input;
  const splits = Object.entries(stats.splits)
    .map(([name, split]) => `${name} ${split.rows}`)
    .join(', ');
  const rows: Array<[string, string]> = [
    ['rows read', String(input.rowsRead)],
    ['valid rows', `${stats.rows}${splits ? ` (${splits})` : ''}`],
    [
      'quarantined rows',
      `${input.quarantinedRows} (${percent(input.rowsRead === 0 ? 0 : input.quarantinedRows / input.rowsRead)}): ${input.quarantineUri}`,
    ],
    [`label rate (${stats.label} = 1)`, percent(stats.positiveRate)],
    ['statistics', input.statisticsUri],
    [
      'schema',
      input.schemaUri
        ? `${input.schemaUri}${input.schemaCreated ? ' (inferred from this dataset)' : ''}`
        : 'not checked',
    ],
    ['drift baseline', input.baselineStatisticsUri ?? 'none (no production model to compare with)'],
  ];
  return table(['', ''], rows);
}

function anomaliesSection(anomalies: readonly Anomaly[]): string {
  if (anomalies.length === 0) return 'No anomalies.';
  return table(
    ['severity', 'feature', 'kind', 'what was found'],
    anomalies.map((anomaly) => [anomaly.severity, anomaly.feature ?? '—', anomaly.kind, anomaly.message]),
  );
}

function driftSection(input: ValidationReportInput): string | undefined {
  const drift = input.drift;
  if (!drift) return undefined;
  if (!drift.measured) return `Not measured: ${drift.skippedReason ?? 'unknown reason'}.`;
  return table(
    ['feature', 'metric', 'value', 'sampling noise', 'level'],
    drift.features.map((feature) => [
      feature.feature,
      feature.metric === 'psi' ? 'PSI' : 'Jensen-Shannon',
      feature.value.toFixed(4),
      feature.noise.toFixed(4),
      feature.level,
    ]),
  );
}

function featureSections(stats: DatasetStatistics): string[] {
  const features = Object.entries(stats.features);
  const numeric = features.filter(([, feature]) => feature.numeric);
  const categorical = features.filter(([, feature]) => feature.categorical);
  const other = features.filter(([, feature]) => !feature.numeric && !feature.categorical);
  const sections: string[] = [];
  if (numeric.length > 0) {
    sections.push(
      '## Numeric features',
      table(
        ['feature', 'type', 'count', 'missing', 'min', 'max', 'mean', 'std'],
        numeric.map(([name, feature]) => {
          const n = feature.numeric!;
          return [
            name,
            feature.type,
            feature.count,
            feature.missing,
            n.min,
            n.max,
            number(n.mean),
            number(n.std),
          ];
        }),
      ),
    );
  }
  if (categorical.length > 0) {
    sections.push(
      '## Categorical features',
      table(
        ['feature', 'count', 'missing', 'distinct', 'most frequent'],
        categorical.map(([name, feature]) => {
          const c = feature.categorical!;
          const top = c.top
            .slice(0, 5)
            .map(([value, count]) => `${value} (${percent(count / Math.max(feature.count, 1))})`)
            .join(', ');
          return [
            name,
            feature.count,
            feature.missing,
            `${c.distinct}${c.distinctIsLowerBound ? '+' : ''}`,
            top,
          ];
        }),
      ),
    );
  }
  if (other.length > 0) {
    sections.push(
      '## Other columns',
      table(
        ['column', 'type', 'count', 'missing', 'note'],
        other.map(([name, feature]) => [
          name,
          `${feature.type} (${feature.arrowType})`,
          feature.count,
          feature.missing,
          feature.identifier
            ? 'identifier: no vocabulary kept'
            : feature.bytes
              ? `${feature.bytes.minLength}–${feature.bytes.maxLength} bytes`
              : '',
        ]),
      ),
    );
  }
  return sections;
}

/** The whole report as Markdown. */
export function validationReportMarkdown(input: ValidationReportInput): string {
  const critical = input.anomalies.filter((anomaly) => anomaly.severity === 'critical').length;
  const warnings = input.anomalies.length - critical;
  const verdict =
    critical > 0
      ? `**Failed**: ${critical} critical anomal${critical === 1 ? 'y' : 'ies'}, ${warnings} warning(s).`
      : `**Passed** with ${warnings} warning(s).`;
  const drift = driftSection(input);
  return (
    [
      `# Data validation of ${input.dataUri}`,
      verdict,
      summarySection(input),
      '## Anomalies',
      anomaliesSection(input.anomalies),
      ...(drift ? ["## Drift from the production model's training data", drift] : []),
      ...(input.notes.length > 0 ? ['## Notes', input.notes.map((note) => `- ${note}`).join('\n')] : []),
      ...featureSections(input.statistics),
    ].join('\n\n') + '\n'
  );
}
