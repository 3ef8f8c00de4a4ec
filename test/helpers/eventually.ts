/** Polls until a check yields a value: for state that other processes (servers, workers) change. */

/**
 * Calls `check` every 300 ms until it returns something other than undefined, and returns that. A check
 * that throws counts as "not yet" (a query to a workflow that has not started, say); past the timeout the
 * error names `what` and carries the last such failure.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}` +
          (lastError instanceof Error ? ` (last error: ${lastError.message})` : ''),
        { cause: lastError },
      );
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
