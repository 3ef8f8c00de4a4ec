/**
 * Infers a feature spec from the data itself, in the manner of TFX's SchemaGen: one streamed pass
 * over every CSV of a dataset (bounded memory whatever its size) profiles each column, then each
 * column gets a kind from what its values look like. Every guess that could go either way is said
 * in a note, so the user knows which lines of the spec to check.
 */
import { parse } from 'csv-parse';
import {
  DEFAULT_MISSING_VALUES,
  featureSpecSchema,
  FEATURE_SPEC_FORMAT,
  type FeatureSpec,
  type FeatureSpecInput,
} from '../../contracts/feature-spec';
import { resolveUri, storageFor } from '../storage';
import { ColumnProfile } from './column-profile';
import { parentUri, listDataCsvs } from './csv-files';
import { sniffDialect, SNIFF_BYTES } from './csv-dialect';
import { encodingProblem } from './csv-rows';

/** Integer columns with at most this many distinct values are categories, however numeric they look. */
export const MAX_NUMERIC_AS_CATEGORICAL = 20;
/** Digits past which an integer is an identifier or a code: a double is exact only to 15–16 digits. */
export const MAX_NUMERIC_DIGITS = 15;
/** Categorical columns with more distinct values are hashed instead of given a vocabulary. */
export const MAX_VOCABULARY = 1000;
/** Hash buckets at most: an embedding of 2^17 rows stays a few MB. */
const MAX_HASH_BUCKETS = 1 << 17;
/** Image references checked for existence per image column. */
const IMAGE_SAMPLE = 20;
/** Categorical features with this many values or fewer are offered as evaluation slices. */
const MAX_SLICE_VALUES = 12;
const SLICES = 2;

const LABEL_NAMES = [
  'label',
  'target',
  'y',
  'class',
  'clicked',
  'click',
  'is_click',
  'converted',
  'churn',
  'outcome',
];
const POSITIVE_VALUES = ['1', '1.0', 'true', 't', 'yes', 'y', 'positive', 'pos'];
const ID_NAME = /^(id|.*[_ -]id|.*Id|uuid|guid|key)$/i;

export interface DescribeOptions {
  /** The label column; guessed when absent (a name like "label", else the last two-valued column). */
  label?: string;
  /** Column names for a CSV without a header row; `column_1` … otherwise. */
  columns?: readonly string[];
  /** Overrides the sniffed delimiter. */
  delimiter?: string;
}

/** One column as the inference saw it and what it made of it. */
export interface ColumnReport {
  column: string;
  role: 'label' | 'id' | 'feature';
  kind: string;
  /** Encoding and settings, in words ("vocabulary", "hashed, 256 buckets", "zscore"). */
  detail: string;
  missingShare: number;
  distinct: number;
  distinctIsEstimate: boolean;
  examples: string[];
  /** Why, when the kind was a guess that could go the other way. */
  note?: string;
}

export interface DescribeResult {
  spec: FeatureSpec;
  files: string[];
  rows: number;
  /** Lines that could not be read as a row (stray quotes, wrong field count), skipped. */
  malformedRows: number;
  columns: ColumnReport[];
  /** Ambiguities and decisions a person should check, in reading order. */
  notes: string[];
}

/** A problem with the data or the options that stops the inference: the message says what to do. */
export class DescribeError extends Error {
  override name = 'DescribeError';
}

async function readStart(uri: string): Promise<Buffer> {
  const stream = await storageFor(uri).createReadStream(uri, { start: 0, end: SNIFF_BYTES - 1 });
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

function columnNames(
  header: boolean,
  firstRow: string[],
  given: readonly string[] | undefined,
  uri: string,
): string[] {
  if (!header) {
    if (given && given.length !== firstRow.length) {
      throw new DescribeError(
        `--columns names ${given.length} columns but ${uri} has ${firstRow.length} fields per line`,
      );
    }
    return given ? [...given] : firstRow.map((_, index) => `column_${index + 1}`);
  }
  const unnamed = firstRow.findIndex((name) => name === '');
  if (unnamed >= 0) throw new DescribeError(`${uri}: column ${unnamed + 1} of the header has no name`);
  const duplicate = firstRow.find((name, index) => firstRow.indexOf(name) !== index);
  if (duplicate) throw new DescribeError(`${uri}: the header names "${duplicate}" twice`);
  return firstRow;
}

/** Profiles every column of every CSV at `dataUri` and infers the spec from what it saw. */
export async function describeDataset(
  dataUri: string,
  options: DescribeOptions = {},
): Promise<DescribeResult> {
  const { files } = await listDataCsvs(dataUri);
  if (files.length === 0) throw new DescribeError(`no CSV file at ${dataUri}`);
  const head = await readStart(files[0]!.uri);
  const encoding = encodingProblem(files[0]!.uri, head);
  if (encoding) throw new DescribeError(encoding);
  let sniffed;
  try {
    sniffed = sniffDialect(head.toString('utf8'), {
      delimiter: options.delimiter,
      header: options.columns ? false : undefined,
    });
  } catch (error) {
    throw new DescribeError(`${files[0]!.uri}: ${(error as Error).message}`);
  }
  const names = columnNames(sniffed.header, sniffed.firstRow, options.columns, files[0]!.uri);
  const missingValues = new Set(DEFAULT_MISSING_VALUES);
  const profiles = names.map((name) => new ColumnProfile(name, missingValues));
  let rows = 0;
  let malformedRows = 0;
  for (const file of files) {
    const parser = (await storageFor(file.uri).createReadStream(file.uri)).pipe(
      parse({
        delimiter: sniffed.delimiter,
        bom: true,
        relax_column_count: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
      }),
    );
    parser.on('skip', () => malformedRows++);
    let first = true;
    for await (const record of parser as AsyncIterable<string[]>) {
      if (first && sniffed.header) {
        first = false;
        const header = record.map((cell) => cell.trim());
        if (header.join('\u0000') !== names.join('\u0000')) {
          throw new DescribeError(
            `${file.name} has the header "${header.join(',')}" where ${files[0]!.name} has "${names.join(',')}": the files of one dataset must share their columns`,
          );
        }
        continue;
      }
      first = false;
      if (record.length !== names.length) {
        malformedRows++;
        continue;
      }
      rows++;
      for (let column = 0; column < names.length; column++) profiles[column]!.add(record[column]!);
    }
  }
  if (rows === 0) throw new DescribeError(`${dataUri} has no data rows`);
  const notes = [...sniffed.reasons];
  if (malformedRows > 0)
    notes.push(
      `${malformedRows} lines could not be read as rows (wrong field count or a stray quote) and were skipped`,
    );
  const result = inferFromProfiles(
    profiles,
    rows,
    { ...options, delimiter: sniffed.delimiter, header: sniffed.header },
    notes,
  );
  await checkImageColumns(result.spec, profiles, parentUri(files[0]!.uri), notes);
  return { ...result, files: files.map((file) => file.uri), rows, malformedRows, notes };
}

interface Decision {
  role: ColumnReport['role'];
  feature?: FeatureSpecInput['features'][number];
  detail: string;
  note?: string;
  /** Guesses of the same sort are told in one note: which sort, and this column's evidence. */
  guess?: { sort: GuessSort; evidence: string };
}

/** Sorts of guess, each with the sentence that tells all columns of that sort at once. */
const GUESS_SENTENCES = {
  constant: 'ignored, one value only in this data (set a kind if other data varies)',
  longIntegers: 'read as categories: integers too long to be exact as numbers',
  fewValues:
    'read as categories although they look numeric, having few distinct values (set kind "numeric" where magnitude matters)',
  spreadThin:
    'read as numbers although their integers are spread thin, like codes (set kind "categorical" if they are codes)',
  text: 'read as free text: several words per value, rarely repeated',
} as const;
type GuessSort = keyof typeof GUESS_SENTENCES;

function chooseLabel(
  profiles: readonly ColumnProfile[],
  given: string | undefined,
  notes: string[],
): ColumnProfile {
  if (given !== undefined) {
    const label = profiles.find((profile) => profile.name === given);
    if (!label)
      throw new DescribeError(
        `--label ${given} is not a column; the columns are ${profiles.map((p) => p.name).join(', ')}`,
      );
    return label;
  }
  const named = profiles.find(
    (profile) => LABEL_NAMES.includes(profile.name.toLowerCase()) && profile.distinct === 2,
  );
  if (named) {
    notes.push(`label: "${named.name}" (guessed from its name; pass --label to choose another)`);
    return named;
  }
  const binary = profiles.filter((profile) => profile.distinct === 2 && !profile.distinctOverflow);
  const last = binary.at(-1);
  if (!last) throw new DescribeError('no column has exactly two values to be the label: pass --label COLUMN');
  notes.push(
    `label: "${last.name}" (guessed: the last of ${binary.length} two-valued column${binary.length === 1 ? '' : 's'}; pass --label to choose another)`,
  );
  return last;
}

function positiveValue(label: ColumnProfile, notes: string[]): { positive: string; negative: string } {
  if (label.distinct !== 2) {
    const values = label.topValues(5).map(([value]) => JSON.stringify(value));
    throw new DescribeError(
      `the label "${label.name}" has ${label.distinctOverflow ? `about ${label.distinct}` : label.distinct} values (${values.join(', ')}${label.distinct > 5 ? ', …' : ''}): a binary label needs exactly two`,
    );
  }
  const [[common], [rare]] = label.topValues(2) as [[string, number], [string, number]];
  const known = [common, rare].find((value) => POSITIVE_VALUES.includes(value.toLowerCase()));
  if (known) return { positive: known, negative: known === common ? rare : common };
  notes.push(
    `label: positive value ${JSON.stringify(rare)} guessed as the rarer one (the other is ${JSON.stringify(common)}); edit label.positive if that is wrong`,
  );
  return { positive: rare, negative: common };
}

function hashBuckets(distinct: number): number {
  return Math.min(MAX_HASH_BUCKETS, Math.max(64, 2 ** Math.ceil(Math.log2(distinct * 2))));
}

function categorical(profile: ColumnProfile, note?: string, guess?: Decision['guess']): Decision {
  // A vocabulary fitted on values that never come back (an IP, a device hash) only learns the training rows.
  const mostlyNew = profile.present >= 50 && profile.distinct > 0.5 * profile.present;
  if (profile.distinctOverflow || profile.distinct > MAX_VOCABULARY || mostlyNew) {
    const buckets = hashBuckets(profile.distinct);
    return {
      role: 'feature',
      feature: { column: profile.name, kind: 'categorical', encoding: 'hash', buckets },
      detail: `hashed, ${buckets} buckets`,
      note,
      guess,
    };
  }
  return {
    role: 'feature',
    feature: { column: profile.name, kind: 'categorical', encoding: 'vocabulary' },
    detail: 'vocabulary (+ OOV bucket)',
    note,
    guess,
  };
}

function decideFeature(profile: ColumnProfile, rows: number): Decision {
  const { name } = profile;
  if (profile.present === 0) {
    return {
      role: 'feature',
      feature: { column: name, kind: 'ignored', reason: 'every value is missing' },
      detail: '',
      note: 'every value is missing',
    };
  }
  if (profile.distinct === 1 && !profile.distinctOverflow) {
    const [[value]] = profile.topValues(1) as [[string, number]];
    const reason = `one value only (${JSON.stringify(value)}) in ${rows} rows`;
    return {
      role: 'feature',
      feature: { column: name, kind: 'ignored', reason },
      detail: '',
      note: `${reason}: it cannot tell rows apart`,
      guess: { sort: 'constant', evidence: JSON.stringify(value) },
    };
  }
  if (profile.imageLike >= 0.9 * profile.present) {
    return { role: 'feature', feature: { column: name, kind: 'image' }, detail: 'image path or URI' };
  }
  if (profile.allNumeric) {
    if (profile.allIntegers && profile.maxDigits > MAX_NUMERIC_DIGITS) {
      return categorical(
        profile,
        `integers of up to ${profile.maxDigits} digits: too long to be exact as numbers`,
        { sort: 'longIntegers', evidence: `${profile.maxDigits} digits` },
      );
    }
    if (profile.allIntegers && profile.distinct <= MAX_NUMERIC_AS_CATEGORICAL) {
      return categorical(profile, `numeric-looking with ${profile.distinct} distinct values`, {
        sort: 'fewValues',
        evidence: `${profile.distinct}`,
      });
    }
    const missingIndicator = profile.missing > 0;
    const span = profile.max - profile.min + 1;
    const spreadThin = profile.allIntegers && !profile.distinctOverflow && profile.distinct / span < 0.05;
    return {
      role: 'feature',
      feature: { column: name, kind: 'numeric', normalize: 'zscore', missingIndicator },
      detail: `zscore${missingIndicator ? ', missing indicator' : ''}`,
      ...(spreadThin
        ? {
            note: `integers spread thin (${profile.distinct} distinct between ${profile.min} and ${profile.max}): codes?`,
            guess: {
              sort: 'spreadThin' as const,
              evidence: `${profile.distinct} in ${profile.min}..${profile.max}`,
            },
          }
        : {}),
    };
  }
  // Free text rarely repeats itself; a few multi-word values used over and over are categories.
  const varied = profile.distinctOverflow || profile.distinct >= 0.3 * profile.present;
  if (varied && (profile.meanWords >= 3 || profile.multiWord >= 0.5 * profile.present)) {
    return {
      role: 'feature',
      feature: { column: name, kind: 'text' },
      detail: 'hashed word 1–2-grams',
      note: `${profile.meanWords.toFixed(1)} words per value, ${profile.distinct} distinct`,
      guess: { sort: 'text', evidence: `${profile.meanWords.toFixed(1)} words` },
    };
  }
  return categorical(profile);
}

function isIdCandidate(profile: ColumnProfile): boolean {
  if (!profile.unique || profile.fractional > 0) return false;
  if (profile.nonNumeric > 0 && profile.meanWords > 1) return false;
  return ID_NAME.test(profile.name) || profile.allIntegers;
}

/** The spec the profiles imply; pure, so each rule is unit-tested on its own. */
export function inferFromProfiles(
  profiles: readonly ColumnProfile[],
  rows: number,
  options: DescribeOptions & { delimiter: string; header: boolean },
  notes: string[],
): { spec: FeatureSpec; columns: ColumnReport[] } {
  const label = chooseLabel(profiles, options.label, notes);
  const { positive, negative } = positiveValue(label, notes);
  if (label.missing > 0) notes.push(`label: ${label.missing} rows have no label; ingest quarantines them`);
  const candidates = profiles.filter((profile) => profile !== label && isIdCandidate(profile));
  const id = candidates.find((profile) => ID_NAME.test(profile.name)) ?? candidates[0];
  if (id) {
    notes.push(
      `id: "${id.name}" (${ID_NAME.test(id.name) ? 'its name, and ' : ''}a different value on every row${id.allIntegers ? ', kept as a string' : ''}); it is not given to the model`,
    );
  }
  const decisions = new Map<ColumnProfile, Decision>();
  for (const profile of profiles) {
    if (profile === label)
      decisions.set(profile, { role: 'label', detail: `positive = ${JSON.stringify(positive)}` });
    else if (profile === id) decisions.set(profile, { role: 'id', detail: 'kept as a string' });
    else decisions.set(profile, decideFeature(profile, rows));
  }
  const padded = profiles.filter((profile) => profile.padded > 0);
  if (padded.length > 0)
    notes.push(
      `spaces around values in ${padded.length} columns (e.g. "${padded[0]!.name}") are trimmed (csv.trim)`,
    );
  const slices = profiles
    .filter((profile) => {
      const feature = decisions.get(profile)!.feature;
      return (
        feature?.kind === 'categorical' &&
        feature.encoding !== 'hash' &&
        profile.distinct >= 2 &&
        profile.distinct <= MAX_SLICE_VALUES
      );
    })
    .slice(0, SLICES)
    .map((profile) => profile.name);
  if (slices.length > 0)
    notes.push(
      `slices: ${slices.join(', ')} (categorical with few values); evaluation reports metrics per value of each`,
    );
  const spec = featureSpecSchema.parse({
    format: FEATURE_SPEC_FORMAT,
    csv: {
      delimiter: options.delimiter,
      header: options.header,
      columns: profiles.map((profile) => profile.name),
      trim: true,
      missingValues: [...DEFAULT_MISSING_VALUES],
    },
    label: { column: label.name, positive, negative },
    ...(id ? { id: id.name } : {}),
    features: profiles.flatMap((profile) => {
      const feature = decisions.get(profile)!.feature;
      return feature ? [feature] : [];
    }),
    slices,
  } satisfies FeatureSpecInput);
  const columns = profiles.map((profile): ColumnReport => {
    const decision = decisions.get(profile)!;
    return {
      column: profile.name,
      role: decision.role,
      kind: decision.role === 'feature' ? decision.feature!.kind : decision.role,
      detail: decision.detail,
      missingShare: profile.rows ? profile.missing / profile.rows : 0,
      distinct: profile.distinct,
      distinctIsEstimate: profile.distinctOverflow,
      examples: profile.examples,
      ...(decision.note ? { note: decision.note } : {}),
    };
  });
  for (const sort of Object.keys(GUESS_SENTENCES) as GuessSort[]) {
    const guessed = profiles.filter((profile) => decisions.get(profile)!.guess?.sort === sort);
    if (guessed.length === 0) continue;
    const list = guessed
      .map((profile) => `${profile.name} (${decisions.get(profile)!.guess!.evidence})`)
      .join(', ');
    notes.push(
      `${guessed.length === 1 ? '1 column' : `${guessed.length} columns`} ${GUESS_SENTENCES[sort]}: ${list}`,
    );
  }
  return { spec, columns };
}

/** Looks for the first few image files of each image column, so a wrong root is caught now. */
async function checkImageColumns(
  spec: FeatureSpec,
  profiles: readonly ColumnProfile[],
  baseUri: string,
  notes: string[],
): Promise<void> {
  for (const feature of spec.features) {
    if (feature.kind !== 'image') continue;
    const profile = profiles.find((candidate) => candidate.name === feature.column)!;
    const sample = [...profile.counts.keys()].slice(0, IMAGE_SAMPLE);
    const found = await Promise.all(
      sample.map(async (reference) => {
        const uri = resolveUri(baseUri, reference);
        return storageFor(uri)
          .exists(uri)
          .catch(() => false);
      }),
    );
    const missing = sample.filter((_, index) => !found[index]);
    if (missing.length > 0) {
      notes.push(
        `${feature.column}: ${missing.length} of the first ${sample.length} images are missing (e.g. ${resolveUri(baseUri, missing[0]!)}); paths are read relative to the CSV's folder`,
      );
    }
  }
}
