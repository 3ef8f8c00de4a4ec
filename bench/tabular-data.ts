/**
 * The benches' tabular dataset: avazu-like rows without images (a 20-digit id, a 0/1 label, 10
 * categorical columns of 3 to 3000 values, 5 numerics with 5% blanks), as CSV lines or as the
 * examples ingest would store, with its feature spec.
 */
import { FEATURE_SPEC_FORMAT, featureSpecSchema } from '../contracts/feature-spec';
import type { DatasetExample, FeatureValue } from '../lib/dataset/example';
import { createRandom } from '../lib/dataset/random';

const CATEGORICALS = 10;
const NUMERICS = 5;

export const TABULAR_SPEC = featureSpecSchema.parse({
  format: FEATURE_SPEC_FORMAT,
  label: { column: 'click', positive: '1', negative: '0' },
  id: 'id',
  features: [
    ...Array.from({ length: CATEGORICALS }, (_, i) => ({ column: `C${i + 1}`, kind: 'categorical' })),
    ...Array.from({ length: NUMERICS }, (_, i) => ({ column: `N${i + 1}`, kind: 'numeric' })),
  ],
});

/** The header and `rows` rows, each as CSV fields in header order; deterministic for a seed. */
export function* tabularRecords(rows: number, seed = 17): Generator<string[]> {
  const random = createRandom(seed);
  yield ['id', 'click', ...TABULAR_SPEC.features.map((feature) => feature.column)];
  for (let row = 0; row < rows; row++) {
    const id = `${10_000_000_000 + row}${String(Math.floor(random() * 1e9)).padStart(10, '0')}`;
    const categoricals = Array.from(
      { length: CATEGORICALS },
      (_, i) => `v${Math.floor(random() * 3 * 10 ** (i % 4))}`,
    );
    const numerics = Array.from({ length: NUMERICS }, () =>
      random() < 0.05 ? '' : (random() * 1000).toFixed(2),
    );
    yield [id, random() < 0.17 ? '1' : '0', ...categoricals, ...numerics];
  }
}

/** The CSV text of `rows` rows. */
export function tabularCsv(rows: number): string {
  return `${Array.from(tabularRecords(rows), (fields) => fields.join(',')).join('\n')}\n`;
}

/** The same rows as stored examples: strings, numbers (null when blank), the label as 0/1. */
export function tabularExamples(rows: number): DatasetExample[] {
  const records = tabularRecords(rows);
  const header = records.next().value as string[];
  return Array.from(records, (fields) =>
    Object.fromEntries(
      fields.map((value, i): [string, FeatureValue] => {
        const column = header[i]!;
        if (column === 'click') return [column, Number(value)];
        if (column.startsWith('N')) return [column, value === '' ? null : Number(value)];
        return [column, value];
      }),
    ),
  );
}
