import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { getFreePort, resolveTemporalCli, startDevServer } from '../../../lib/temporal-server/index';
import { SEARCH_ATTRIBUTE_NAMES, ML_STAGE } from '../../../contracts/temporal';
import { startTestDevServer } from '../../helpers/dev-server';

const KEYWORD = encodeSearchAttributeIndexedValueType(SearchAttributeType.KEYWORD);

async function customSearchAttributes(address: string, namespace: string): Promise<Record<string, unknown>> {
  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return customAttributes;
  } finally {
    await connection.close();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('Temporal dev server', { timeout: 180_000 }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mlops-temporal-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('registers MlModel, MlModelVersion and MlStage as Keyword search attributes', async () => {
    const server = await startTestDevServer();
    try {
      const attributes = await customSearchAttributes(server.address, server.namespace);
      for (const name of SEARCH_ATTRIBUTE_NAMES)
        assert.equal(attributes[name], KEYWORD, `${name} is a Keyword`);
    } finally {
      await server.stop();
    }
  });

  it('restores missing search attributes and serves the Web UI when it reuses a database file', async () => {
    const dbFile = path.join(tmp, 'nested', 'temporal.sqlite');
    const options = { dbFile, uiPort: false as const, namespace: 'mlops-test', logLevel: 'error' };
    const first = await startTestDevServer(options);
    try {
      const connection = await Connection.connect({ address: first.address });
      try {
        await connection.operatorService.removeSearchAttributes({
          namespace: first.namespace,
          searchAttributes: [ML_STAGE.name],
        });
        const { customAttributes } = await connection.operatorService.listSearchAttributes({
          namespace: first.namespace,
        });
        assert.equal(customAttributes[ML_STAGE.name], undefined, 'the attribute was removed');
      } finally {
        await connection.close();
      }
    } finally {
      await first.stop();
    }

    // start-dev ignores --search-attribute on an existing database, so this checks our own repair.
    const second = await startTestDevServer({ ...options, uiPort: await getFreePort() });
    try {
      const attributes = await customSearchAttributes(second.address, second.namespace);
      assert.equal(attributes[ML_STAGE.name], KEYWORD);
      assert.ok(second.uiUrl, 'a UI URL is reported');
      const response = await fetch(second.uiUrl);
      assert.equal(response.status, 200);
    } finally {
      await second.stop();
    }
  });

  it('stop() ends the server process and frees its port', async () => {
    const server = await startTestDevServer();
    const { pid } = server;
    assert.ok(pid, 'the server runs as a child process');
    assert.ok(isAlive(pid));
    await server.stop();
    assert.equal(isAlive(pid), false);
    assert.ok(await canListen(Number(server.address.split(':').at(-1))));
    await server.stop(); // a second stop is harmless
  });

  it('explains a TEMPORAL_CLI_PATH that points at a missing file', async () => {
    const missing = path.join(tmp, 'no-such-temporal');
    await assert.rejects(
      resolveTemporalCli({ env: { TEMPORAL_CLI_PATH: missing }, log: () => undefined }),
      (err: Error) => err.message.includes('TEMPORAL_CLI_PATH') && err.message.includes(missing),
    );
    const saved = process.env.TEMPORAL_CLI_PATH;
    process.env.TEMPORAL_CLI_PATH = missing;
    try {
      await assert.rejects(startTestDevServer(), /TEMPORAL_CLI_PATH is set to .*no executable file is there/);
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_CLI_PATH;
      else process.env.TEMPORAL_CLI_PATH = saved;
    }
  });

  it("reports the server's own output when it exits before it is ready", async () => {
    await assert.rejects(startTestDevServer({ logLevel: 'bogus' }), (err: Error) => {
      assert.match(err.message, /did not start \(exited: code 1\)/);
      assert.match(err.message, /invalid argument "bogus" for "--log-level"/);
      return true;
    });
  });

  it('refuses a port that is already taken instead of talking to another server', async () => {
    const running = await startTestDevServer();
    try {
      const port = Number(running.address.split(':').at(-1));
      await assert.rejects(
        startDevServer({ port, uiPort: false, log: () => undefined }),
        /gRPC port 127\.0\.0\.1:\d+ is in use/,
      );
    } finally {
      await running.stop();
    }
  });
});
