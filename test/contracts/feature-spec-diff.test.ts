import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { featureSpecSchema } from '../../contracts/feature-spec';
import { diffFeatureSpecs, featureSpecComparisonMarkdown } from '../../contracts/feature-spec-diff';
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';

describe('feature spec diff', () => {
  it('is empty for the same spec', () => {
    assert.deepEqual(diffFeatureSpecs(ADS_FEATURE_SPEC, structuredClone(ADS_FEATURE_SPEC)), []);
    assert.deepEqual(featureSpecComparisonMarkdown({ productionVersion: '3', changes: [] }), [
      "**Feature spec:** the same as production v3's.",
    ]);
  });

  it('names each column added, dropped, retyped or re-configured, and the output and label', () => {
    const candidate = featureSpecSchema.parse({
      ...ADS_FEATURE_SPEC,
      csv: { ...ADS_FEATURE_SPEC.csv, columns: undefined },
      label: { ...ADS_FEATURE_SPEC.label, positive: 'yes', negative: 'no' },
      features: [
        ...ADS_FEATURE_SPEC.features
          .filter((feature) => feature.column !== 'headline_length')
          .map((feature) =>
            feature.column === 'category'
              ? { column: 'category', kind: 'text' }
              : feature.column === 'hour'
                ? { ...feature, normalize: 'log' }
                : feature,
          ),
        { column: 'ad_age_days', kind: 'numeric' },
      ],
      output: 'ctr_score',
    });
    const changes = diffFeatureSpecs(ADS_FEATURE_SPEC, candidate);
    const bySubject = Object.fromEntries(changes.map((change) => [change.subject, change]));
    assert.deepEqual(bySubject.ad_age_days, { subject: 'ad_age_days', change: 'added', detail: 'numeric' });
    assert.deepEqual(bySubject.headline_length, {
      subject: 'headline_length',
      change: 'dropped',
      detail: 'numeric',
    });
    assert.deepEqual(bySubject.category, {
      subject: 'category',
      change: 'retyped',
      detail: 'categorical → text',
    });
    assert.equal(bySubject.hour?.change, 'changed');
    assert.equal(bySubject.hour?.detail, 'normalize "zscore" → "log"');
    assert.equal(bySubject.output?.detail, '"click_probability" → "ctr_score"');
    assert.match(bySubject.label?.detail ?? '', /"positive":"1".*→.*"positive":"yes"/);
    // csv.columns differ (a header names them now) but that is not a dialect change.
    assert.equal(bySubject.csv, undefined);
    assert.equal(changes.length, 6);

    const markdown = featureSpecComparisonMarkdown({ productionVersion: '3', changes }).join('\n');
    assert.match(markdown, /^\*\*Feature spec vs production v3: 6 changes\*\*$/m);
    assert.match(markdown, /^- added \*\*ad\\_age\\_days\*\*: numeric \(clients must send it\)$/m);
    assert.match(
      markdown,
      /^- changed \*\*output\*\*: .*\(clients read the probability under the new name\)$/m,
    );
  });
});
