/**
 * Reading a CSV by its feature spec: the header (or the spec's column names) checked against the
 * spec, then each record checked and converted into a DatasetExample, each problem a sentence a
 * person can act on. Row problems start with a short kind before the first colon, which is what
 * the ingest summary counts.
 */
import type { FeatureSpec } from '../../contracts/feature-spec';
import { imageColumnOf, PIXELS_KEY, type FeatureValue } from './example';

/** How a stored column is converted from its cell. */
type CellKind = 'id' | 'label' | 'categorical' | 'numeric' | 'text';

interface StoredCell {
  column: string;
  position: number;
  kind: CellKind;
  /** A missing value quarantines the row. */
  required?: boolean;
  min?: number;
  max?: number;
}

/** A spec bound to one file's column order: what checkRow needs, computed once per file. */
export interface RowReader {
  spec: FeatureSpec;
  /** The file's column names, in file order. */
  names: readonly string[];
  /** The stored columns, in the order shards store them (see shardColumns): id, features, label. */
  cells: readonly StoredCell[];
  /** Position of the image column, when the spec has one. */
  imagePosition?: number;
  idPosition?: number;
  missingValues: ReadonlySet<string>;
  /** Length of the longest missing value: a longer cell is not one, without hashing it. */
  longestMissingValue: number;
  /** Rows to score: a missing or unknown label is stored as null instead of quarantining the row. */
  labelOptional: boolean;
}

export interface RowReaderOptions {
  /** Rows to score (batch prediction): the label column may be absent, its values need not be labels. */
  labelOptional?: boolean;
}

/**
 * A row that passed every check: its stored values (one per reader cell, in its order), its id and
 * its image reference; or why it did not pass.
 */
export type RowCheck =
  | { values: FeatureValue[]; id: string | undefined; imageRef: string | undefined; splitKey: string }
  | { id?: string; reason: string };

/** The row's stored values by column name. */
export function exampleOf(reader: RowReader, values: readonly FeatureValue[]): Record<string, FeatureValue> {
  return Object.fromEntries(reader.cells.map((cell, index) => [cell.column, values[index]!]));
}

/** Every column the spec speaks of: label, id, features (ignored ones too). */
export function specColumns(spec: FeatureSpec): string[] {
  return [spec.label.column, ...(spec.id ? [spec.id] : []), ...spec.features.map((f) => f.column)];
}

/** The file's column names: its header record (trimmed), or the spec's csv.columns for a file without one. */
export function fileColumns(spec: FeatureSpec, headerRecord: readonly string[] | undefined): string[] {
  if (!spec.csv.header) return [...spec.csv.columns!];
  return (headerRecord ?? []).map((name) => name.trim());
}

const OTHER_DELIMITERS = [',', ';', '\t', '|'];

/** Names the delimiter a record seems to use instead of the spec's, if one does. */
function delimiterHint(spec: FeatureSpec, fields: readonly string[]): string {
  if (fields.length !== 1) return '';
  const other = OTHER_DELIMITERS.find((char) => char !== spec.csv.delimiter && fields[0]!.includes(char));
  return other
    ? `; the file looks ${JSON.stringify(other)}-delimited where the spec says csv.delimiter ${JSON.stringify(spec.csv.delimiter)}`
    : '';
}

/**
 * Binds the spec to a file whose first record is `firstRecord` (its header when csv.header):
 * every column the spec names must be there, and every column there must be in the spec.
 */
export function rowReaderFor(
  uri: string,
  spec: FeatureSpec,
  firstRecord: readonly string[],
  options: RowReaderOptions = {},
): { reader: RowReader } | { problem: string } {
  const labelOptional = options.labelOptional === true;
  let names = fileColumns(spec, firstRecord);
  // A headerless file of rows to score may simply lack the label's field.
  if (!spec.csv.header && labelOptional && firstRecord.length === names.length - 1) {
    names = names.filter((name) => name !== spec.label.column);
  }
  const hint = delimiterHint(spec, firstRecord);
  if (!spec.csv.header && firstRecord.length !== names.length) {
    return {
      problem: `${uri}: the spec names ${names.length} columns (csv.columns) but its first line has ${firstRecord.length} fields${hint}`,
    };
  }
  if (hint) {
    return {
      problem: `${uri} has the wrong header for the feature spec: it reads as one column${hint}`,
    };
  }
  const garbled = names.some((name) => name.includes('\ufffd'));
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  const named = specColumns(spec);
  const missing = named.filter(
    (column) => !names.includes(column) && !(labelOptional && column === spec.label.column),
  );
  const unknown = names.filter((name) => !named.includes(name));
  if (missing.length || unknown.length || duplicate !== undefined || garbled) {
    const quoted = (columns: string[]) => columns.map((column) => JSON.stringify(column)).join(', ');
    const problems = [
      ...(missing.length ? [`missing ${quoted(missing)}, which the spec names`] : []),
      ...(unknown.length
        ? [
            `${quoted(unknown)} ${unknown.length === 1 ? 'is' : 'are'} not in the spec (add each as a feature, kind "ignored" to leave it out)`,
          ]
        : []),
      ...(duplicate !== undefined ? [`"${duplicate}" is named twice`] : []),
      ...(garbled ? ['the header is not valid UTF-8: re-save the file as UTF-8'] : []),
    ];
    return {
      problem: `${uri} has the wrong header for the feature spec ("${names.join(spec.csv.delimiter)}"): ${problems.join('; ')}`,
    };
  }
  if (spec.features.some((f) => f.column === PIXELS_KEY && f.kind !== 'image' && f.kind !== 'ignored')) {
    return {
      problem: `${uri}: a feature column named "${PIXELS_KEY}" collides with the decoded image; make it "ignored" or rename it (csv.columns)`,
    };
  }
  const position = (column: string) => names.indexOf(column);
  const cells: StoredCell[] = [
    ...(spec.id ? [{ column: spec.id, position: position(spec.id), kind: 'id' as const }] : []),
    ...spec.features.flatMap((feature): StoredCell[] => {
      if (feature.kind !== 'categorical' && feature.kind !== 'numeric' && feature.kind !== 'text') return [];
      const cell: StoredCell = {
        column: feature.column,
        position: position(feature.column),
        kind: feature.kind,
        required: feature.required,
      };
      if (feature.kind === 'numeric') {
        if (feature.min !== undefined) cell.min = feature.min;
        if (feature.max !== undefined) cell.max = feature.max;
      }
      return [cell];
    }),
    { column: spec.label.column, position: position(spec.label.column), kind: 'label' },
  ];
  const image = imageColumnOf(spec);
  return {
    reader: {
      spec,
      names,
      cells,
      ...(image ? { imagePosition: position(image) } : {}),
      ...(spec.id ? { idPosition: position(spec.id) } : {}),
      missingValues: new Set(spec.csv.missingValues),
      longestMissingValue: Math.max(0, ...spec.csv.missingValues.map((value) => value.length)),
      labelOptional,
    },
  };
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

// Module-level, not a closure per row: checkRow runs for every row ingest reads.
function cellAt(fields: readonly string[], position: number, trim: boolean): string {
  const raw = fields[position] ?? '';
  return trim ? raw.trim() : raw;
}

/** A failed row's id, for its quarantine entry: only when it has one. */
const withId = (id: string | undefined) => (id ? { id } : {});

function hasReplacementCharacter(fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i++) if (fields[i]!.includes('\ufffd')) return true;
  return false;
}

/** Checks one record against the spec and converts it; the reason's kind is before its first colon. */
export function checkRow(fields: readonly string[], reader: RowReader): RowCheck {
  const { spec, names, missingValues } = reader;
  const trim = spec.csv.trim;
  const id = reader.idPosition === undefined ? undefined : cellAt(fields, reader.idPosition, trim);
  if (fields.length !== names.length) {
    return { ...withId(id), reason: `field count: expected ${names.length} fields, got ${fields.length}` };
  }
  // csv-parse decodes UTF-8 and turns every invalid byte into U+FFFD: a Latin-1 or Windows-1252 row.
  if (hasReplacementCharacter(fields)) {
    const garbled = names.filter((_, position) => fields[position]!.includes('\ufffd'));
    return {
      ...withId(id),
      reason: `encoding: ${garbled.join(', ')} not valid UTF-8 (is the file Latin-1 or Windows-1252? re-save it as UTF-8)`,
    };
  }
  const cells = reader.cells;
  const values: FeatureValue[] = new Array<FeatureValue>(cells.length);
  let invalid: string[] | undefined;
  for (let index = 0; index < cells.length; index++) {
    const { column, position, kind, required, min, max } = cells[index]!;
    const value = cellAt(fields, position, trim);
    const isMissing = value.length <= reader.longestMissingValue && missingValues.has(value);
    values[index] = null;
    if (isMissing && required) {
      (invalid ??= []).push(
        `${column} is ${value === '' ? 'blank' : `"${value}"`} but the spec says it is required`,
      );
      continue;
    }
    switch (kind) {
      case 'id':
        if (isMissing) return { reason: `missing id: ${column} is ${value === '' ? 'blank' : `"${value}"`}` };
        values[index] = value;
        break;
      case 'label': {
        const { positive, negative } = spec.label;
        if (reader.labelOptional) {
          // Scoring: a known label is kept (for whoever joins outcomes later), anything else is none.
          const known = position >= 0 && !isMissing;
          values[index] =
            known && value === positive
              ? 1
              : known && (negative === undefined || value === negative)
                ? 0
                : null;
          break;
        }
        if (isMissing) {
          return {
            ...withId(id),
            reason: `missing label: ${column} is ${value === '' ? 'blank' : `"${value}"`}`,
          };
        }
        if (value === positive) values[index] = 1;
        else if (negative === undefined || value === negative) values[index] = 0;
        else {
          return {
            ...withId(id),
            reason: `invalid label: ${column} is "${value}", expected "${positive}" or "${negative}"`,
          };
        }
        break;
      }
      case 'numeric': {
        if (isMissing) break;
        const number = NUMBER.test(value) ? Number(value) : Number.NaN;
        if (Number.isNaN(number)) (invalid ??= []).push(`${column}: "${value}" is not a number`);
        else if (min !== undefined && number < min)
          (invalid ??= []).push(`${column}: ${value} is below the spec's min ${min}`);
        else if (max !== undefined && number > max)
          (invalid ??= []).push(`${column}: ${value} is above the spec's max ${max}`);
        else values[index] = number;
        break;
      }
      default:
        values[index] = isMissing ? null : value;
    }
  }
  if (invalid) return { ...withId(id), reason: `invalid field: ${invalid.join('; ')}` };
  let imageRef: string | undefined;
  if (reader.imagePosition !== undefined) {
    imageRef = cellAt(fields, reader.imagePosition, trim);
    if (missingValues.has(imageRef)) {
      return { ...withId(id), reason: `missing image: ${names[reader.imagePosition]} is blank` };
    }
  }
  // Without an id, identical rows share a key, so copies never straddle train and eval.
  const splitKey = id ?? fields.join('\u0001');
  // The id as read, even a blank one the spec does not count as missing: duplicates are found by it.
  return { values, id, imageRef, splitKey };
}
