import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_OUTPUT_NAME,
  FEATURE_SPEC_FORMAT,
  featureSpecSchema,
  modelInputs,
  parseFeatureSpec,
  type FeatureSpecInput,
} from '../../contracts/feature-spec';
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';

const MINIMAL: FeatureSpecInput = {
  format: FEATURE_SPEC_FORMAT,
  label: { column: 'y', positive: 'yes' },
  features: [
    { column: 'colour', kind: 'categorical' },
    { column: 'size', kind: 'numeric' },
  ],
};

function problemsOf(spec: unknown): string {
  try {
    parseFeatureSpec(JSON.stringify(spec), 'spec.json');
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail('expected the spec to be refused');
}

void describe('feature spec', () => {
  void it('fills the defaults a user may leave out', () => {
    const spec = featureSpecSchema.parse(MINIMAL);
    assert.deepEqual(spec.csv.delimiter, ',');
    assert.equal(spec.csv.header, true);
    assert.equal(spec.csv.trim, true);
    assert.ok(spec.csv.missingValues.includes(''));
    assert.equal(spec.output, DEFAULT_OUTPUT_NAME);
    assert.deepEqual(spec.slices, []);
    assert.deepEqual(spec.features[0], { column: 'colour', kind: 'categorical', encoding: 'vocabulary' });
    assert.deepEqual(spec.features[1], {
      column: 'size',
      kind: 'numeric',
      normalize: 'zscore',
      missingIndicator: true,
    });
  });

  void it('survives a JSON round trip unchanged (what the registry stores is what was validated)', () => {
    const again = parseFeatureSpec(JSON.stringify(ADS_FEATURE_SPEC));
    assert.deepEqual(again, ADS_FEATURE_SPEC);
    assert.equal(ADS_FEATURE_SPEC.output, 'click_probability');
    assert.deepEqual(
      modelInputs(ADS_FEATURE_SPEC).map((feature) => feature.column),
      ['image', 'advertiser', 'category', 'placement', 'device', 'hour', 'headline_length'],
    );
  });

  void it('refuses a column that has two roles, naming both', () => {
    const message = problemsOf({ ...MINIMAL, id: 'colour' });
    assert.match(message, /column "colour" is both the id and a categorical feature/);
    assert.match(
      problemsOf({ ...MINIMAL, features: [...MINIMAL.features, { column: 'y', kind: 'numeric' }] }),
      /column "y" is both the label and a numeric feature/,
    );
  });

  void it('refuses a headerless CSV without column names, and columns the spec does not account for', () => {
    assert.match(
      problemsOf({ ...MINIMAL, csv: { header: false } }),
      /csv\.columns: a CSV without a header row needs csv\.columns/,
    );
    const message = problemsOf({ ...MINIMAL, csv: { columns: ['y', 'colour', 'size', 'weight', 'notes'] } });
    assert.match(message, /csv\.columns has weight, notes but the spec says nothing of them/);
    assert.match(
      problemsOf({ ...MINIMAL, csv: { columns: ['y', 'colour'] } }),
      /column "size" is not in csv\.columns/,
    );
  });

  void it('refuses slices that are not categorical features, a label with one value twice, a bad output name', () => {
    assert.match(problemsOf({ ...MINIMAL, slices: ['size'] }), /slices\.0: slice "size" is numeric/);
    assert.match(problemsOf({ ...MINIMAL, slices: ['shape'] }), /slice "shape" is not a feature/);
    assert.match(
      problemsOf({ ...MINIMAL, label: { column: 'y', positive: 'yes', negative: 'yes' } }),
      /label\.negative must differ/,
    );
    assert.match(problemsOf({ ...MINIMAL, output: 'click probability' }), /output must be an identifier/);
    assert.match(problemsOf({ ...MINIMAL, output: 'prediction_id' }), /output must not be "prediction_id"/);
  });

  void it('refuses unknown kinds and keys, mismatched encoding settings, and a spec of ignored columns only', () => {
    assert.match(problemsOf({ ...MINIMAL, features: [{ column: 'colour', kind: 'colour' }] }), /features\.0/);
    assert.match(
      problemsOf({ ...MINIMAL, features: [{ column: 'colour', kind: 'categorical', vocab: 3 }] }),
      /vocab/,
    );
    assert.match(
      problemsOf({ ...MINIMAL, features: [{ column: 'colour', kind: 'categorical', buckets: 64 }] }),
      /buckets with encoding "hash"/,
    );
    assert.match(
      problemsOf({ ...MINIMAL, features: [{ column: 'colour', kind: 'ignored' }] }),
      /every feature is ignored/,
    );
    assert.match(
      problemsOf({ ...MINIMAL, format: 'mlops-feature-spec/0' }),
      /format must be "mlops-feature-spec\/1"/,
    );
  });

  void it('says where the JSON itself is broken', () => {
    assert.throws(() => parseFeatureSpec('{"format": ', 'my-spec.json'), /my-spec\.json is not valid JSON/);
  });
});
