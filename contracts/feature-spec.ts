/**
 * The feature spec: what a dataset's CSV looks like and what each of its columns means to a model.
 * Inferred by `mlops data describe`, edited by the user, validated here, and saved with every model
 * version, so every stage reads the user's columns instead of constants. Plain JSON and
 * workflow-safe.
 */
import { z } from 'zod';

/** Format tag of a feature spec; readers refuse other formats rather than misread them. */
export const FEATURE_SPEC_FORMAT = 'mlops-feature-spec/1';

/** The prediction's output name when a spec does not say (TF Serving's habit for one output). */
export const DEFAULT_OUTPUT_NAME = 'probability';

/** Cells that mean "no value" unless a spec says otherwise. */
export const DEFAULT_MISSING_VALUES: readonly string[] = ['', 'NA', 'N/A', 'NaN', 'null', '?'];

/** Every kind a feature column can have, with what it becomes in a model. Adding a kind starts here. */
export const FEATURE_KINDS = [
  {
    kind: 'categorical',
    description: 'one of a set of values: a vocabulary with an out-of-vocabulary bucket, or hashed buckets',
  },
  { kind: 'numeric', description: 'a number: normalised, with a missing-value indicator' },
  { kind: 'text', description: 'free text: hashed word n-grams' },
  {
    kind: 'image',
    description: 'a path or URI of a PNG, JPEG or WebP image (relative to the CSV, absolute, or gs://)',
  },
  { kind: 'ignored', description: 'read and checked for presence, never given to the model' },
] as const;

export type FeatureKind = (typeof FEATURE_KINDS)[number]['kind'];

/** Values a categorical vocabulary keeps at most, when its feature does not say. */
export const DEFAULT_MAX_VOCABULARY = 1000;
/** Buckets of a hashed categorical feature, when it does not say. */
export const DEFAULT_HASH_BUCKETS = 1024;

const columnName = z.string().min(1, 'a column name must not be empty');

const csvDialectSchema = z.strictObject({
  delimiter: z.string().length(1, 'csv.delimiter must be one character').default(','),
  quote: z.string().length(1, 'csv.quote must be one character').default('"'),
  /** True: the first row names the columns. False: `columns` names them. */
  header: z.boolean().default(true),
  /** Every column, in file order. Required without a header row; with one, the header must match it. */
  columns: z.array(columnName).min(2, 'csv.columns must list at least a label and one feature').optional(),
  /** Leading and trailing spaces of every cell are dropped (` Private` reads as `Private`). */
  trim: z.boolean().default(true),
  /** Cells (after trimming) that mean a value is missing. */
  missingValues: z.array(z.string()).default([...DEFAULT_MISSING_VALUES]),
});

const categoricalSchema = z
  .strictObject({
    column: columnName,
    kind: z.literal('categorical'),
    /** A missing value quarantines the row instead of reading as missing (default false). */
    required: z.boolean().optional(),
    /** vocabulary: the most frequent values of the training data plus one out-of-vocabulary bucket. hash: buckets only. */
    encoding: z.enum(['vocabulary', 'hash']).default('vocabulary'),
    /** Values kept in the vocabulary at most (encoding vocabulary; default DEFAULT_MAX_VOCABULARY). */
    maxVocabulary: z.number().int().min(1).max(1_000_000).optional(),
    /** Hash buckets (encoding hash; default DEFAULT_HASH_BUCKETS). */
    buckets: z.number().int().min(2).max(1_000_000).optional(),
  })
  .refine(
    (feature) =>
      feature.encoding === 'hash' ? feature.maxVocabulary === undefined : feature.buckets === undefined,
    {
      message: 'maxVocabulary goes with encoding "vocabulary", buckets with encoding "hash"',
    },
  );

const numericSchema = z.strictObject({
  column: columnName,
  kind: z.literal('numeric'),
  /** A missing value quarantines the row instead of reading as missing (default false). */
  required: z.boolean().optional(),
  /** Values below min or above max quarantine the row (TFX's int_domain / float_domain). */
  min: z.number().optional(),
  max: z.number().optional(),
  /** zscore: (x − mean) / std of the training data; log: the same after log1p(|x|)·sign(x); none: as is. */
  normalize: z.enum(['zscore', 'log', 'none']).default('zscore'),
  /** Adds a 0/1 input saying the value was missing (missing values then read as the mean). */
  missingIndicator: z.boolean().default(true),
});

const textSchema = z.strictObject({
  column: columnName,
  kind: z.literal('text'),
  /** A missing value quarantines the row instead of reading as missing (default false). */
  required: z.boolean().optional(),
  /** Word n-grams up to this length are hashed (1: words only). */
  ngrams: z.number().int().min(1).max(3).default(2),
  buckets: z.number().int().min(16).max(1_000_000).default(4096),
  /** Words read per value at most. */
  maxTokens: z.number().int().min(1).max(10_000).default(64),
});

const imageSchema = z.strictObject({
  column: columnName,
  kind: z.literal('image'),
});

const ignoredSchema = z.strictObject({
  column: columnName,
  kind: z.literal('ignored'),
  /** Why, for the reader (the inference says what it saw). */
  reason: z.string().optional(),
});

const featureSchema = z.discriminatedUnion('kind', [
  categoricalSchema,
  numericSchema,
  textSchema,
  imageSchema,
  ignoredSchema,
]);

export const featureSpecSchema = z
  .strictObject({
    format: z.literal(FEATURE_SPEC_FORMAT, { message: `format must be "${FEATURE_SPEC_FORMAT}"` }),
    csv: csvDialectSchema.prefault({}),
    label: z.strictObject({
      column: columnName,
      /** The label value that means positive (after trimming): `1`, `yes`, `true`, `50000+.` … */
      positive: z.string().min(1, 'label.positive must name the positive value'),
      /** The other value; a row with neither is quarantined. Absent: every other value is negative. */
      negative: z.string().min(1).optional(),
    }),
    /** A column that identifies a row, kept as a string whatever it looks like (a 20-digit number). */
    id: columnName.optional(),
    features: z.array(featureSchema).min(1, 'features must list at least one column'),
    /** Categorical features that evaluation reports metrics per value of. */
    slices: z.array(columnName).default([]),
    /** Name of the probability in predictions. */
    output: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'output must be an identifier (letters, digits, _)')
      // Each prediction carries its id beside the probability.
      .refine(
        (name) => name !== 'prediction_id',
        'output must not be "prediction_id", the name of each prediction\'s id',
      )
      .default(DEFAULT_OUTPUT_NAME),
  })
  .superRefine((spec, context) => {
    const problem = (message: string, path: Array<string | number>) =>
      context.addIssue({ code: 'custom', message, path });
    const seen = new Map<string, string>();
    const claim = (column: string, role: string, path: Array<string | number>) => {
      const earlier = seen.get(column);
      if (earlier) problem(`column "${column}" is both ${earlier} and ${role}`, path);
      else seen.set(column, role);
    };
    claim(spec.label.column, 'the label', ['label', 'column']);
    if (spec.id !== undefined) claim(spec.id, 'the id', ['id']);
    spec.features.forEach((feature, index) =>
      claim(feature.column, `a ${feature.kind} feature`, ['features', index, 'column']),
    );
    spec.features.forEach((feature, index) => {
      if (
        feature.kind === 'numeric' &&
        feature.min !== undefined &&
        feature.max !== undefined &&
        feature.min > feature.max
      )
        problem(`${feature.column}: min ${feature.min} is above max ${feature.max}`, [
          'features',
          index,
          'min',
        ]);
    });
    const images = spec.features.filter((feature) => feature.kind === 'image');
    if (images.length > 1) {
      problem(
        `${images.map((feature) => feature.column).join(', ')} are all images: a model has one image tower, so one image column (make the others "ignored")`,
        ['features'],
      );
    }
    if (!spec.features.some((feature) => feature.kind !== 'ignored')) {
      problem('every feature is ignored: a model needs at least one input', ['features']);
    }
    if (spec.label.negative !== undefined && spec.label.negative === spec.label.positive) {
      problem('label.negative must differ from label.positive', ['label', 'negative']);
    }
    const columns = spec.csv.columns;
    if (!spec.csv.header && !columns) {
      problem('a CSV without a header row needs csv.columns to name its columns', ['csv', 'columns']);
    }
    if (columns) {
      const duplicates = columns.filter((column, index) => columns.indexOf(column) !== index);
      if (duplicates.length)
        problem(`csv.columns names ${[...new Set(duplicates)].join(', ')} twice`, ['csv', 'columns']);
      for (const column of seen.keys()) {
        if (!columns.includes(column))
          problem(`column "${column}" is not in csv.columns`, ['csv', 'columns']);
      }
      const unaccounted = columns.filter((column) => !seen.has(column));
      if (unaccounted.length) {
        problem(
          `csv.columns has ${unaccounted.join(', ')} but the spec says nothing of ${unaccounted.length === 1 ? 'it' : 'them'}: add each as a feature (kind "ignored" to leave it out)`,
          ['features'],
        );
      }
    }
    spec.slices.forEach((slice, index) => {
      const feature = spec.features.find((candidate) => candidate.column === slice);
      if (!feature) problem(`slice "${slice}" is not a feature`, ['slices', index]);
      else if (feature.kind !== 'categorical')
        problem(`slice "${slice}" is ${feature.kind}: only categorical features can be sliced by`, [
          'slices',
          index,
        ]);
    });
  });

export type FeatureSpecInput = z.input<typeof featureSpecSchema>;
export type FeatureSpec = z.output<typeof featureSpecSchema>;
export type FeatureColumn = FeatureSpec['features'][number];
export type CsvDialect = FeatureSpec['csv'];

/** A spec's problems as lines a person can act on: where in the JSON, then what is wrong. */
export function featureSpecProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    return `${where}${issue.message}`;
  });
}

/** Parses a feature spec from JSON text; throws an Error whose message lists every problem. */
export function parseFeatureSpec(text: string, source = 'feature spec'): FeatureSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = featureSpecSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `${source} is not a valid feature spec:\n${featureSpecProblems(parsed.error)
        .map((line) => `  - ${line}`)
        .join('\n')}`,
    );
  }
  return parsed.data;
}

/** The columns a model takes as inputs, in spec order (ignored ones left out). */
export function modelInputs(spec: FeatureSpec): Exclude<FeatureColumn, { kind: 'ignored' }>[] {
  return spec.features.filter(
    (feature): feature is Exclude<FeatureColumn, { kind: 'ignored' }> => feature.kind !== 'ignored',
  );
}
