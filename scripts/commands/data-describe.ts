/** `mlops data describe`: infer a dataset's feature spec, show it as a table, write it for editing. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { describeDataset, type DescribeResult } from '../../lib/dataset/spec-inference';
import { formatTable } from './format-table';
import { parseOptions } from './parse-options';

const describeOptionsSchema = z.strictObject({
  data: z.string().trim().min(1, '--data must name a CSV file or a folder of them (local or gs://)'),
  label: z.string().trim().min(1, '--label must name a column').optional(),
  out: z.string().trim().min(1, '--out must name a file').default('features.json'),
  columns: z
    .string()
    .transform((value) => value.split(',').map((name) => name.trim()))
    .refine(
      (names) => names.every((name) => name.length > 0),
      '--columns must be comma-separated names, none empty',
    )
    .refine((names) => new Set(names).size === names.length, '--columns names a column twice')
    .optional(),
  delimiter: z
    .string()
    .transform((value) => (value === '\\t' || value === 'tab' ? '\t' : value))
    .pipe(z.string().length(1, '--delimiter must be one character (or "tab")'))
    .optional(),
  force: z.boolean().default(false),
});

function shorten(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** The table and notes a person reads before editing the spec. */
export function formatDescription(result: DescribeResult, outFile: string): string {
  const rows = result.columns.map((column) => [
    column.column,
    column.kind,
    column.detail,
    `${(column.missingShare * 100).toFixed(column.missingShare > 0 && column.missingShare < 0.01 ? 1 : 0)}%`,
    column.distinctIsEstimate ? `≈${column.distinct}` : `${column.distinct}`,
    shorten(column.examples.join(', '), 48),
  ]);
  const kinds = new Map<string, number>();
  for (const column of result.columns) kinds.set(column.kind, (kinds.get(column.kind) ?? 0) + 1);
  const fileCount = result.files.length === 1 ? result.files[0]! : `${result.files.length} files`;
  return [
    `Described ${result.rows} rows of ${fileCount}`,
    '',
    formatTable(['column', 'kind', 'encoding', 'missing', 'distinct', 'examples'], rows),
    '',
    'Guesses to check:',
    ...result.notes.map((note) => `  - ${note}`),
    '',
    `Wrote ${outFile}: ${[...kinds].map(([kind, count]) => `${count} ${kind}`).join(', ')}, output "${result.spec.output}"`,
    "Edit any line that is wrong (a kind, the label's positive value, the slices); the spec is validated when read.",
  ].join('\n');
}

/** Adds `data describe` to the `data` command. */
export function registerDescribeCommand(data: Command): void {
  data
    .command('describe')
    .description(
      "infer a feature spec from a dataset's CSV(s), TFX SchemaGen-style: each column's kind, blanks, cardinality, the label's positive value, the CSV dialect",
    )
    .requiredOption('--data <uri>', 'a CSV file or a folder of CSVs, local or gs://')
    .option('--label <column>', 'the label column (guessed when absent)')
    .option('--out <file>', 'where to write the spec (default features.json)')
    .option('--columns <names>', 'comma-separated column names, for a CSV without a header row')
    .option('--delimiter <char>', 'the field delimiter, when the guess is wrong ("tab" for tabs)')
    .option('--force', 'overwrite --out if it exists')
    .action(async (raw: Record<string, unknown>, command: Command) => {
      const options = parseOptions(describeOptionsSchema, { ...raw, force: raw.force === true }, command);
      const outFile = path.resolve(options.out);
      // An edited spec is the user's work: never overwrite it unasked.
      if (!options.force && (await fs.stat(outFile).catch(() => undefined))) {
        throw new Error(`${outFile} exists; pass --force to overwrite it, or --out another file`);
      }
      const result = await describeDataset(options.data, {
        label: options.label,
        columns: options.columns,
        delimiter: options.delimiter,
      });
      await fs.writeFile(outFile, `${JSON.stringify(result.spec, null, 2)}\n`);
      console.log(formatDescription(result, options.out));
    });
}
