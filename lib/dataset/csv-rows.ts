/**
 * Checks on an ads CSV: its encoding, its header, and each row, each problem a sentence a person
 * can act on. Row problems start with a short kind before the first colon, which is what the
 * ingest summary counts.
 */
import { AD_COLUMNS, adRowSchema, type AdRow } from './schema';

/** Bytes of a file's start that the encoding check looks at. */
export const ENCODING_SNIFF_BYTES = 4096;

const UTF16_BOMS: Array<[string, number[]]> = [
  ['UTF-16 LE', [0xff, 0xfe]],
  ['UTF-16 BE', [0xfe, 0xff]],
];

/**
 * Why a file's first bytes cannot be a UTF-8 CSV, or undefined when they can: a UTF-16 byte order
 * mark, or NUL bytes (UTF-16 without a mark, or a binary file). Invalid UTF-8 further in (a
 * Latin-1 file) is found row by row instead, see checkAdRow.
 */
export function encodingProblem(uri: string, head: Buffer): string | undefined {
  for (const [name, bom] of UTF16_BOMS) {
    if (bom.every((byte, i) => head[i] === byte)) {
      return `${uri} is encoded as ${name} (it starts with a ${name} byte order mark); ads CSVs must be UTF-8: re-save it as "CSV UTF-8"`;
    }
  }
  if (head.subarray(0, ENCODING_SNIFF_BYTES).includes(0)) {
    return `${uri} contains NUL bytes: it is UTF-16 without a byte order mark, or not a text file; ads CSVs must be UTF-8 text`;
  }
  return undefined;
}

/** Where each of AD_COLUMNS sits in a file's records. */
export type ColumnIndex = Record<(typeof AD_COLUMNS)[number], number>;

/** The column positions of a header that has every ad column once and nothing else; else the problem. */
export function checkHeader(uri: string, fields: string[]): { columns: ColumnIndex } | { problem: string } {
  const header = fields.map((name) => name.trim());
  const missing = AD_COLUMNS.filter((column) => !header.includes(column));
  if (missing.length === 0 && header.length === AD_COLUMNS.length) {
    return {
      columns: Object.fromEntries(
        AD_COLUMNS.map((column) => [column, header.indexOf(column)]),
      ) as ColumnIndex,
    };
  }
  const delimiter =
    header.length === 1 ? [';', '\t', '|'].find((char) => header[0]!.includes(char)) : undefined;
  const garbled = header.some((name) => name.includes('\ufffd'));
  return {
    problem:
      `${uri} has the wrong header: expected "${AD_COLUMNS.join(',')}", got "${header.join(',')}"` +
      (missing.length ? ` (missing: ${missing.join(', ')})` : '') +
      (delimiter
        ? `; the file looks ${JSON.stringify(delimiter)}-delimited, but ads CSVs must be comma-separated`
        : '') +
      (garbled ? '; the header is not valid UTF-8: re-save the file as UTF-8' : ''),
  };
}

/** A row that passed every field check, or why it did not. */
export type RowCheck = { row: AdRow } | { adId?: string; reason: string };

/** Validates one record against the schema; the reason's kind is before its first colon. */
export function checkAdRow(fields: string[], columns: ColumnIndex): RowCheck {
  if (fields.length !== AD_COLUMNS.length) {
    return { reason: `field count: expected ${AD_COLUMNS.length} fields, got ${fields.length}` };
  }
  const raw = Object.fromEntries(AD_COLUMNS.map((column) => [column, fields[columns[column]] ?? '']));
  // csv-parse decodes UTF-8 and turns every invalid byte into U+FFFD: a Latin-1 or Windows-1252 row.
  const garbled = AD_COLUMNS.filter((column) => raw[column]!.includes('\ufffd'));
  if (garbled.length > 0) {
    return {
      adId: raw.ad_id,
      reason: `encoding: ${garbled.join(', ')} not valid UTF-8 (is the file Latin-1 or Windows-1252? re-save it as UTF-8)`,
    };
  }
  const parsed = adRowSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    return { adId: raw.ad_id, reason: `invalid field: ${problems.join('; ')}` };
  }
  return { row: parsed.data };
}

/** Reason category for counting: the text before the first colon. */
export function reasonKind(reason: string): string {
  return reason.split(':')[0] ?? reason;
}

/** Adds one reason to per-kind counts. */
export function countReason(counts: Record<string, number>, reason: string): void {
  const kind = reasonKind(reason);
  counts[kind] = (counts[kind] ?? 0) + 1;
}
