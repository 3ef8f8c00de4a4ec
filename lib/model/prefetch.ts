/** Keeps the next item of an async iterable in flight while the consumer works on the current one. */

/**
 * Yields `source`'s items in order, always having asked for up to `depth` more: reading and
 * decoding the next batch (file I/O in libuv's pool, decoding between the trainer's awaits)
 * overlaps training on this one. Closing the result closes the source.
 */
export async function* prefetch<T>(source: AsyncIterable<T>, depth = 1): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const ahead: Array<Promise<IteratorResult<T>>> = [];
  const request = () => {
    const next = iterator.next();
    // Awaited below in order; this only stops a failure that arrives after the consumer left from going unhandled.
    next.catch(() => undefined);
    ahead.push(next);
  };
  try {
    for (let i = 0; i < Math.max(1, depth); i++) request();
    for (;;) {
      const result = await ahead.shift()!;
      if (result.done) return;
      request();
      yield result.value;
    }
  } finally {
    // Async generators queue return() behind the pending next(), so the source finishes its step, then closes.
    await iterator.return?.();
  }
}
