/** Model version numbers as the registry stores them. */

/** Version numbers are positive integers; "v3" and "003" name version 3. */
export function normalizeVersion(version: string): string | undefined {
  const match = /^v?(\d+)$/i.exec(version.trim());
  if (!match) return undefined;
  const number = Number(match[1]);
  return number > 0 && Number.isSafeInteger(number) ? String(number) : undefined;
}
