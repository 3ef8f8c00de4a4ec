/** Error text for people: workflow-safe, so workflows and the CLI share it. */

/** The innermost cause's message: an activity's own words rather than "Activity task failed". */
export function rootMessage(err: unknown): string {
  let inner = err;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}
