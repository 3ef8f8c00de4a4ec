/** A logger for webpack bundling and in-process workers in tests: errors only, so test output stays readable. */
const nothing = () => undefined;

export const quietLogger = {
  log: nothing,
  trace: nothing,
  debug: nothing,
  info: nothing,
  warn: nothing,
  error: (message: string) => console.error(message),
};

/** Silent entirely: for tests that provoke errors on purpose. */
export const silentLogger = { ...quietLogger, error: nothing };
