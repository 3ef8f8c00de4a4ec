/** The ad dataset's schema: CSV columns, the validated row type, and the decoded example type. */
import { z } from 'zod';

/** Columns of ads.csv, in order. */
export const AD_COLUMNS = [
  'ad_id',
  'image',
  'advertiser',
  'category',
  'placement',
  'device',
  'hour',
  'headline_length',
  'clicked',
] as const;

export const CATEGORICAL_FEATURES = ['advertiser', 'category', 'placement', 'device'] as const;
export const NUMERIC_FEATURES = ['hour', 'headline_length'] as const;
export type CategoricalFeature = (typeof CATEGORICAL_FEATURES)[number];
export type NumericFeature = (typeof NUMERIC_FEATURES)[number];

const integerField = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `${name} must be an integer`)
    .transform(Number)
    .pipe(z.number().min(min, `${name} must be >= ${min}`).max(max, `${name} must be <= ${max}`));

const textField = (name: string) => z.string().trim().min(1, `${name} is empty`);

/** One CSV row as read: every field a string, validated and converted here. */
export const adRowSchema = z.object({
  ad_id: textField('ad_id'),
  image: textField('image'),
  advertiser: textField('advertiser'),
  category: textField('category'),
  placement: textField('placement'),
  device: textField('device'),
  hour: integerField('hour', 0, 23),
  headline_length: integerField('headline_length', 0, 1000),
  clicked: z.enum(['0', '1'], { message: 'clicked must be 0 or 1' }).transform(Number),
});

export type AdRow = z.output<typeof adRowSchema>;

/** The tabular features a model sees (the label excluded), as the prediction API takes them. */
export type AdFeatures = {
  advertiser: string;
  category: string;
  placement: string;
  device: string;
  hour: number;
  headline_length: number;
};

/** A row with its image decoded to RGB pixels (imageSize × imageSize × 3, row-major). */
export type AdExample = AdFeatures & {
  ad_id: string;
  clicked: number;
  pixels: Uint8Array;
};
