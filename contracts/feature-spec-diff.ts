/**
 * What changed between production's feature spec and a candidate's: columns added, dropped or
 * retyped, a kind's settings, the label, the id, the output name and the CSV dialect. Shown to the
 * reviewer beside the metrics, since a new column or a renamed output changes what clients must
 * send and read. Pure and workflow-safe.
 */
import type { FeatureSpec } from './feature-spec';
import { escapeMarkdown } from './markdown';

export interface FeatureSpecChange {
  /** The column, or what else changed: `label`, `id`, `output`, `csv`, `slices`. */
  subject: string;
  change: 'added' | 'dropped' | 'retyped' | 'changed';
  /** Readable, e.g. `numeric`, `categorical → text`, `normalize zscore → log`. */
  detail: string;
}

/** The spec comparison evaluation records when there is a production version. */
export interface FeatureSpecComparison {
  productionVersion: string;
  changes: FeatureSpecChange[];
}

type Feature = FeatureSpec['features'][number];

function show(value: unknown): string {
  return value === undefined ? '(unset)' : JSON.stringify(value);
}

/** Settings that differ between two features of the same kind, as `key before → after`. */
function settingChanges(before: Feature, after: Feature): string[] {
  const a = before as unknown as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((key) => key !== 'column');
  return keys
    .filter((key) => show(a[key]) !== show(b[key]))
    .sort()
    .map((key) => `${key} ${show(a[key])} → ${show(b[key])}`);
}

/** Every difference from `before` (production's) to `after` (the candidate's), columns in the candidate's order. */
export function diffFeatureSpecs(before: FeatureSpec, after: FeatureSpec): FeatureSpecChange[] {
  const changes: FeatureSpecChange[] = [];
  const old = new Map(before.features.map((feature) => [feature.column, feature]));
  const current = new Set(after.features.map((feature) => feature.column));
  for (const feature of after.features) {
    const previous = old.get(feature.column);
    if (!previous) changes.push({ subject: feature.column, change: 'added', detail: feature.kind });
    else if (previous.kind !== feature.kind) {
      changes.push({
        subject: feature.column,
        change: 'retyped',
        detail: `${previous.kind} → ${feature.kind}`,
      });
    } else {
      const settings = settingChanges(previous, feature);
      if (settings.length > 0) {
        changes.push({ subject: feature.column, change: 'changed', detail: settings.join(', ') });
      }
    }
  }
  for (const feature of before.features) {
    if (!current.has(feature.column)) {
      changes.push({ subject: feature.column, change: 'dropped', detail: feature.kind });
    }
  }
  const scalar = (subject: string, a: unknown, b: unknown) => {
    if (show(a) !== show(b)) changes.push({ subject, change: 'changed', detail: `${show(a)} → ${show(b)}` });
  };
  scalar('label', before.label, after.label);
  scalar('id', before.id, after.id);
  scalar('output', before.output, after.output);
  scalar('slices', before.slices, after.slices);
  const { columns: _beforeColumns, ...beforeDialect } = before.csv;
  const { columns: _afterColumns, ...afterDialect } = after.csv;
  scalar('csv', beforeDialect, afterDialect);
  return changes;
}

/** Why a reviewer should care, for the changes that alter what clients send or read ('' otherwise). */
export function featureSpecChangeConsequence(change: FeatureSpecChange): string {
  if (change.subject === 'output') return ' (clients read the probability under the new name)';
  if (change.change === 'added' && change.detail !== 'ignored') return ' (clients must send it)';
  if (change.change === 'retyped' && change.detail.endsWith('→ ignored')) {
    return ' (the model no longer reads it)';
  }
  if (change.change === 'retyped') return ' (clients must send the new type)';
  return '';
}

/** The comparison as Markdown lines for the reviewer: one bullet per change, or that nothing changed. */
export function featureSpecComparisonMarkdown(comparison: FeatureSpecComparison): string[] {
  const against = `production v${escapeMarkdown(comparison.productionVersion)}`;
  if (comparison.changes.length === 0) return [`**Feature spec:** the same as ${against}'s.`];
  const count = comparison.changes.length;
  return [
    `**Feature spec vs ${against}: ${count} change${count === 1 ? '' : 's'}**`,
    ...comparison.changes.map(
      (change) =>
        `- ${change.change} **${escapeMarkdown(change.subject)}**: ${escapeMarkdown(change.detail)}${featureSpecChangeConsequence(change)}`,
    ),
  ];
}
