/** The synthetic ads as one feature spec among many: the demo's data, described like anyone's. */
import { featureSpecSchema, FEATURE_SPEC_FORMAT, type FeatureSpec } from '../../contracts/feature-spec';
import { AD_COLUMNS, CATEGORICAL_FEATURES } from './schema';

/** ads.csv's spec: what `mlops data describe` infers from it, with the demo's slices and output name. */
export const ADS_FEATURE_SPEC: FeatureSpec = featureSpecSchema.parse({
  format: FEATURE_SPEC_FORMAT,
  csv: { delimiter: ',', header: true, columns: [...AD_COLUMNS], missingValues: [''] },
  label: { column: 'clicked', positive: '1', negative: '0' },
  id: 'ad_id',
  features: [
    { column: 'image', kind: 'image' },
    // The generator's rows are complete, and hours are hours: anything else is a corrupt row.
    ...CATEGORICAL_FEATURES.map((column) => ({ column, kind: 'categorical', required: true })),
    { column: 'hour', kind: 'numeric', missingIndicator: false, required: true, min: 0, max: 23 },
    {
      column: 'headline_length',
      kind: 'numeric',
      missingIndicator: false,
      required: true,
      min: 0,
      max: 1000,
    },
  ],
  slices: ['device', 'placement'],
  output: 'click_probability',
});
