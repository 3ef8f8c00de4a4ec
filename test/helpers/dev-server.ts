/** A throwaway Temporal dev server for tests: free ports, headless, in-memory, quiet. */
import {
  getFreePort,
  startDevServer,
  type DevServerHandle,
  type DevServerOptions,
} from '../../lib/temporal-server';

/** Starts a dev server nothing else shares; stop it (or `await using`) at the end of the test. */
export async function startTestDevServer(options: DevServerOptions = {}): Promise<DevServerHandle> {
  return startDevServer({
    port: await getFreePort(),
    uiPort: false,
    logLevel: 'error',
    log: () => undefined,
    ...options,
  });
}
