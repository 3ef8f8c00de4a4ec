/**
 * A status query nobody can answer (no worker polls the pipeline's queue, as when the only workers of
 * the build it is pinned to are gone) fails fast with the server's view and what to do, instead of
 * hanging for the server's minute.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { DevServerHandle } from '../../../lib/temporal-server/index';
import { queryPipelineStatus, startPipeline } from '../../../scripts/clients/pipeline-client';
import { startTestDevServer } from '../../helpers/dev-server';

describe('pipeline status query with no worker to answer', { timeout: 120_000 }, () => {
  let server: DevServerHandle;
  let connection: Connection;
  let client: Client;

  before(async () => {
    server = await startTestDevServer();
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: server.namespace });
  });
  after(async () => {
    await connection?.close();
    await server?.stop();
  });

  it('gives up after the timeout and says what the server knows and how to get an answer', async () => {
    const handle = await startPipeline(client, {
      modelName: 'ctr',
      dataUri: '/nowhere',
      taskQueue: 'nobody-polls-this',
      workflowId: 'unanswered-status',
    });
    const started = Date.now();
    const failure = await queryPipelineStatus(client, handle.workflowId, { timeoutMs: 1500 }).then(
      () => assert.fail('a query with no worker was answered'),
      (err: Error) => err,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 8000, `took ${elapsed} ms`);
    const lines = failure.message.split('\n');
    assert.equal(
      lines[0],
      'unanswered-status did not answer its query within 1.5 s: no worker that can run it is polling nobody-polls-this.',
    );
    assert.match(lines[1]!, /^From the server: running, stage ingest, started \d{4}-\d\d-\d\dT/);
    assert.match(lines[2]!, /^Start a control worker/);
  });
});
