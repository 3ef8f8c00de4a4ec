/**
 * A time-skipping Temporal test environment: the native test server, with the project's custom
 * search attributes registered so workflows that upsert MlModel, MlModelVersion and MlStage run.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { DEV_SERVER_SEARCH_ATTRIBUTES } from '../../lib/temporal-server';
import { resolveTestServer, type ResolveTestServerOptions } from '../../lib/temporal-server/test-server';

type IndexedValueType = NonNullable<ReturnType<typeof encodeSearchAttributeIndexedValueType>>;

/** The namespace the test server serves (it has exactly one). */
export const TIME_SKIPPING_NAMESPACE = 'default';

/** A time-skipping environment that `await using` tears down. */
export type TimeSkippingEnv = TestWorkflowEnvironment & AsyncDisposable;

/** Starts the time-skipping test server; `teardown()` (or `await using`) stops it. */
export async function createTimeSkippingEnv(
  options: Pick<ResolveTestServerOptions, 'log'> = {},
): Promise<TimeSkippingEnv> {
  const server = await resolveTestServer({ log: options.log ?? (() => undefined) });
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: {
      executable:
        server.kind === 'executable'
          ? { type: 'existing-path', path: server.path }
          : { type: 'cached-download', downloadDir: server.downloadDir },
    },
  });
  try {
    await registerSearchAttributes(env);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return Object.assign(env, { [Symbol.asyncDispose]: () => env.teardown() });
}

/**
 * The test server refuses a workflow task that upserts an unknown attribute ("search attribute
 * MlStage is not defined") and retries it every 10 s forever, so they must exist before any
 * worker runs. It implements the operator service's add, but not its list, hence no
 * check-then-add as the dev server does.
 */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const searchAttributes: Record<string, IndexedValueType> = {};
  for (const key of DEV_SERVER_SEARCH_ATTRIBUTES) {
    const type = encodeSearchAttributeIndexedValueType(key.type);
    if (type === undefined) throw new Error(`Unknown search attribute type ${key.type} for ${key.name}`);
    searchAttributes[key.name] = type;
  }
  await env.connection.operatorService.addSearchAttributes({
    namespace: TIME_SKIPPING_NAMESPACE,
    searchAttributes,
  });
}
