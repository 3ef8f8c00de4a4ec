/**
 * Guessing a CSV's dialect from its first bytes, as Python's csv.Sniffer does: the delimiter that
 * splits every line into the same number of fields, and whether the first line is a header (its
 * cells are names where the rest of the column holds numbers, and never one of the column's values).
 */
import { parse } from 'csv-parse/sync';

/** Delimiters tried, most common first (ties go to the earlier one). */
export const CANDIDATE_DELIMITERS = [',', ';', '\t', '|'] as const;
/** Bytes of a file's start the sniffer reads. */
export const SNIFF_BYTES = 64 * 1024;
/** Lines the sniffer compares at most. */
const SNIFF_LINES = 200;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** True for a cell that reads as a decimal number (after trimming). */
export function looksNumeric(value: string): boolean {
  return NUMBER.test(value.trim());
}

export interface SniffedDialect {
  delimiter: string;
  header: boolean;
  /** The first line's cells, trimmed: the column names when `header`. */
  firstRow: string[];
  /** Why the sniffer decided so, for the user to check. */
  reasons: string[];
}

/** The sample cut at its last line end, so a line cut in half does not count as a short one. */
function wholeLines(sample: string): string {
  const end = sample.lastIndexOf('\n');
  return end > 0 ? sample.slice(0, end + 1) : sample;
}

function parseSample(sample: string, delimiter: string): string[][] | undefined {
  try {
    const rows: string[][] = parse(sample, {
      delimiter,
      bom: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      // A broken line (an unclosed quote) must not hide the dialect of all the others.
      skip_records_with_error: true,
      to_line: SNIFF_LINES,
    });
    return rows;
  } catch {
    return undefined;
  }
}

/** The share of rows having the most common field count, and that count. */
function consistency(rows: string[][]): { share: number; fields: number } {
  const counts = new Map<number, number>();
  for (const row of rows) counts.set(row.length, (counts.get(row.length) ?? 0) + 1);
  let fields = 0;
  let most = 0;
  for (const [count, rowsWithIt] of counts) {
    if (rowsWithIt > most || (rowsWithIt === most && count > fields)) [fields, most] = [count, rowsWithIt];
  }
  return { share: rows.length ? most / rows.length : 0, fields };
}

/**
 * The delimiter and header of CSV text's start. Throws when no candidate delimiter splits the lines
 * into the same number of fields (more than one).
 */
export function sniffDialect(
  sample: string,
  given: { delimiter?: string; header?: boolean } = {},
): SniffedDialect {
  const text = wholeLines(sample);
  const reasons: string[] = [];
  let best: { delimiter: string; rows: string[][]; share: number; fields: number } | undefined;
  for (const delimiter of given.delimiter ? [given.delimiter] : CANDIDATE_DELIMITERS) {
    const rows = parseSample(text, delimiter);
    if (!rows || rows.length === 0) continue;
    const { share, fields } = consistency(rows);
    if (fields < 2) continue;
    if (!best || share > best.share + 1e-9 || (Math.abs(share - best.share) < 1e-9 && fields > best.fields)) {
      best = { delimiter, rows, share, fields };
    }
  }
  if (!best) {
    throw new Error(
      given.delimiter
        ? `no line splits into two or more fields at ${JSON.stringify(given.delimiter)}`
        : `no delimiter (${CANDIDATE_DELIMITERS.map((d) => JSON.stringify(d)).join(', ')}) splits the lines into two or more fields: is this a CSV?`,
    );
  }
  if (!given.delimiter) {
    reasons.push(
      `delimiter ${JSON.stringify(best.delimiter)}: ${Math.round(best.share * 100)}% of the first ${best.rows.length} lines have ${best.fields} fields`,
    );
  }
  const firstRow = best.rows[0]!.map((cell) => cell.trim());
  const header = given.header ?? detectHeader(best.rows, reasons);
  return { delimiter: best.delimiter, header, firstRow, reasons };
}

/** Votes per column: a name over numbers says header; a number, or one of the column's own values, says data. */
function detectHeader(rows: string[][], reasons: string[]): boolean {
  const [first, ...rest] = rows;
  if (!first) return true;
  if (rest.length === 0) {
    reasons.push('header: one line only, read as the header');
    return true;
  }
  let forHeader = 0;
  let forData = 0;
  first.forEach((rawCell, column) => {
    const cell = rawCell.trim();
    const values = rest.map((row) => (row[column] ?? '').trim()).filter((value) => value !== '');
    if (cell === '') forData++;
    else if (looksNumeric(cell)) forData++;
    else if (values.includes(cell)) forData++;
    else if (values.length > 0 && values.every(looksNumeric)) forHeader++;
  });
  const names = new Set(first.map((cell) => cell.trim()));
  const distinctNames = names.size === first.length;
  const header = forHeader > forData || (forHeader === forData && distinctNames && forData === 0);
  reasons.push(
    header
      ? `header: the first line names the columns (${forHeader} columns hold numbers under a name)`
      : `no header: the first line is data (${forData} of its cells are numbers or values seen again below)`,
  );
  return header;
}
