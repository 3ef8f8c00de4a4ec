import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { featureSpecSchema, FEATURE_SPEC_FORMAT } from '../../../contracts/feature-spec';
import {
  checkRow,
  exampleOf,
  rowReaderFor,
  specColumns,
  type RowReader,
} from '../../../lib/dataset/spec-rows';

/** checkRow's result for a row it must accept, with the row's values by column name. */
function accepted(fields: string[], bound: RowReader) {
  const checked = checkRow(fields, bound);
  assert.ok('values' in checked, JSON.stringify(checked));
  return { ...checked, example: exampleOf(bound, checked.values) };
}
import { CENSUS_COLUMNS, REVIEW_COLUMNS } from '../../helpers/other-datasets';
import { shardColumns } from '../../../lib/dataset/shards';
import { PIXELS_KEY } from '../../../lib/dataset/example';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';

const REVIEWS = featureSpecSchema.parse({
  format: FEATURE_SPEC_FORMAT,
  csv: { delimiter: ';' },
  label: { column: 'Would Recommend', positive: 'yes', negative: 'no' },
  id: 'review id',
  features: [
    { column: 'review text', kind: 'text' },
    { column: 'stars', kind: 'numeric', min: 1, max: 5 },
    { column: 'price', kind: 'numeric' },
    { column: 'city', kind: 'categorical' },
    { column: 'photo', kind: 'image' },
  ],
});

function reader(spec = REVIEWS, header: readonly string[] = REVIEW_COLUMNS): RowReader {
  const bound = rowReaderFor('reviews.csv', spec, header);
  if ('problem' in bound) throw new Error(bound.problem);
  return bound.reader;
}

void describe('rowReaderFor: the header against the spec', () => {
  void it('names a column the spec has and the file lacks, and one the file has and the spec lacks', () => {
    const header = REVIEW_COLUMNS.filter((column) => column !== 'price').concat('tip');
    const bound = rowReaderFor('reviews.csv', REVIEWS, header);
    assert.ok('problem' in bound);
    assert.match(bound.problem, /reviews\.csv has the wrong header for the feature spec/);
    assert.match(bound.problem, /missing "price", which the spec names/);
    assert.match(bound.problem, /"tip" is not in the spec \(add each as a feature, kind "ignored"/);
  });

  void it('says when the file is delimited otherwise than the spec says', () => {
    const bound = rowReaderFor('reviews.csv', REVIEWS, [REVIEW_COLUMNS.join(',')]);
    assert.ok('problem' in bound);
    assert.match(bound.problem, /looks ","-delimited where the spec says csv.delimiter ";"/);
  });

  void it('checks a headerless file by its first line against csv.columns', () => {
    const spec = featureSpecSchema.parse({
      format: FEATURE_SPEC_FORMAT,
      csv: { header: false, columns: CENSUS_COLUMNS },
      label: { column: 'income_50k', positive: '50000+.' },
      features: CENSUS_COLUMNS.filter((column) => column !== 'income_50k').map((column) => ({
        column,
        kind: column === 'age' ? 'numeric' : 'ignored',
      })),
    });
    const short = rowReaderFor('census.csv', spec, CENSUS_COLUMNS.slice(1));
    assert.ok('problem' in short);
    assert.match(short.problem, /the spec names 43 columns \(csv.columns\) but its first line has 42 fields/);
    assert.ok(
      'reader' in
        rowReaderFor(
          'census.csv',
          spec,
          CENSUS_COLUMNS.map(() => 'x'),
        ),
    );
  });
});

void describe('checkRow: one record by the spec', () => {
  const row = (overrides: Record<string, string> = {}) => {
    const values: Record<string, string> = {
      'review id': ' R-1 ',
      'review text': 'great fresh coffee',
      stars: '4',
      price: '12.50',
      city: ' Oslo',
      photo: 'photos/r1.jpg',
      'Would Recommend': 'yes',
      ...overrides,
    };
    return REVIEW_COLUMNS.map((column) => values[column]!);
  };

  void it('converts by kind: trimmed strings, numbers, the label as 0/1, the image as a reference', () => {
    const checked = accepted(row(), reader());
    assert.deepEqual(checked.example, {
      'review id': 'R-1',
      'review text': 'great fresh coffee',
      stars: 4,
      price: 12.5,
      city: 'Oslo',
      'Would Recommend': 1,
    });
    assert.equal(checked.imageRef, 'photos/r1.jpg');
    assert.equal(checked.splitKey, 'R-1', 'the id decides the split');
  });

  void it('reads missing values as null, and no as 0', () => {
    const checked = accepted(row({ price: 'NA', city: '', 'Would Recommend': 'no' }), reader());
    assert.equal(checked.example.price, null);
    assert.equal(checked.example.city, null);
    assert.equal(checked.example['Would Recommend'], 0);
  });

  void it('quarantines a third label value, a blank label, a non-number, a value out of range, a blank image', () => {
    const reasonOf = (overrides: Record<string, string>) => {
      const checked = checkRow(row(overrides), reader());
      assert.ok('reason' in checked, JSON.stringify(overrides));
      assert.equal(checked.id, 'R-1', 'the reason keeps the row id');
      return checked.reason;
    };
    assert.equal(
      reasonOf({ 'Would Recommend': 'maybe' }),
      'invalid label: Would Recommend is "maybe", expected "yes" or "no"',
    );
    assert.equal(reasonOf({ 'Would Recommend': '' }), 'missing label: Would Recommend is blank');
    assert.equal(reasonOf({ price: '12,50' }), 'invalid field: price: "12,50" is not a number');
    assert.equal(reasonOf({ stars: '6' }), "invalid field: stars: 6 is above the spec's max 5");
    assert.equal(reasonOf({ photo: ' ' }), 'missing image: photo is blank');
  });

  void it('quarantines a missing value in a required column and a wrong field count', () => {
    const spec = featureSpecSchema.parse({
      ...REVIEWS,
      features: REVIEWS.features.map((feature) =>
        feature.column === 'city' ? { ...feature, required: true } : feature,
      ),
    });
    const checked = checkRow(row({ city: '?' }), reader(spec));
    assert.ok('reason' in checked);
    assert.equal(checked.reason, 'invalid field: city is "?" but the spec says it is required');
    const short = checkRow(row().slice(0, 5), reader());
    assert.ok('reason' in short);
    assert.equal(short.reason, 'field count: expected 7 fields, got 5');
  });

  void it('splits rows of a spec without an id by their content, so copies share a split', () => {
    const { id: _id, ...rest } = REVIEWS;
    const spec = featureSpecSchema.parse({
      ...rest,
      features: [{ column: 'review id', kind: 'ignored' }, ...REVIEWS.features],
    });
    const a = accepted(row(), reader(spec));
    const b = accepted(row(), reader(spec));
    const c = accepted(row({ stars: '2' }), reader(spec));
    assert.equal(a.splitKey, b.splitKey);
    assert.notEqual(a.splitKey, c.splitKey);
    assert.equal(a.example['review id'], undefined, 'ignored columns are not kept');
  });
});

void describe('rows to score (labelOptional, batch prediction)', () => {
  const row = (label?: string) => {
    const fields = ['r-1', 'great place', '4', '12.5', 'Oslo', 'photos/1.jpg'];
    return label === undefined ? fields : [...fields, label];
  };

  void it('reads a file without the label column, each row with a null label', () => {
    const header = REVIEW_COLUMNS.filter((column) => column !== 'Would Recommend');
    assert.ok('problem' in rowReaderFor('score.csv', REVIEWS, header), 'training still needs the label');
    const bound = rowReaderFor('score.csv', REVIEWS, header, { labelOptional: true });
    assert.ok('reader' in bound);
    const check = accepted(row(), bound.reader);
    assert.equal(check.example['Would Recommend'], null);
    assert.equal(check.example.city, 'Oslo');
  });

  void it('keeps a known label, and stores a blank or unknown one as null instead of quarantining', () => {
    const bound = rowReaderFor('score.csv', REVIEWS, REVIEW_COLUMNS, { labelOptional: true });
    assert.ok('reader' in bound);
    const labelOf = (value: string) => {
      const check = accepted(row(value), bound.reader);
      return check.example['Would Recommend'];
    };
    assert.equal(labelOf('yes'), 1);
    assert.equal(labelOf('no'), 0);
    assert.equal(labelOf(''), null);
    assert.equal(labelOf('maybe'), null);
    // The same rows quarantined for training.
    assert.match(JSON.stringify(checkRow(row('maybe'), reader())), /invalid label/);
  });
});

void describe('the reader stores what shards store', () => {
  void it('has one cell per shard column, in the shard order (writeShardColumns relies on it)', () => {
    for (const spec of [REVIEWS, ADS_FEATURE_SPEC]) {
      const header = spec === REVIEWS ? REVIEW_COLUMNS : specColumns(spec);
      const cells = reader(spec, header).cells.map((cell) => cell.column);
      const stored = shardColumns(spec)
        .map((column) => column.name)
        .filter((name) => name !== PIXELS_KEY);
      assert.deepEqual(cells, stored);
    }
  });
});
