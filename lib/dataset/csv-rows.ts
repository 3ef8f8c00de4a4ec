/**
 * What every CSV must be before its spec is read (UTF-8), and the counting of row problems by
 * kind, the text before a reason's first colon. The rows themselves are checked by spec-rows.ts.
 */
/** Bytes of a file's start that the encoding check looks at. */
export const ENCODING_SNIFF_BYTES = 4096;

const UTF16_BOMS: Array<[string, number[]]> = [
  ['UTF-16 LE', [0xff, 0xfe]],
  ['UTF-16 BE', [0xfe, 0xff]],
];

/**
 * Why a file's first bytes cannot be a UTF-8 CSV, or undefined when they can: a UTF-16 byte order
 * mark, or NUL bytes (UTF-16 without a mark, or a binary file). Invalid UTF-8 further in (a
 * Latin-1 file) is found row by row instead, see checkRow.
 */
export function encodingProblem(uri: string, head: Buffer): string | undefined {
  for (const [name, bom] of UTF16_BOMS) {
    if (bom.every((byte, i) => head[i] === byte)) {
      return `${uri} is encoded as ${name} (it starts with a ${name} byte order mark); CSVs must be UTF-8: re-save it as "CSV UTF-8"`;
    }
  }
  if (head.subarray(0, ENCODING_SNIFF_BYTES).includes(0)) {
    return `${uri} contains NUL bytes: it is UTF-16 without a byte order mark, or not a text file; CSVs must be UTF-8 text`;
  }
  return undefined;
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
