/**
 * `mlops predict` as a real subprocess against a real prediction server (in this process, on a temp store with
 * a tiny saved model): instances from a dataset folder, a file and stdin, feedback, and every bad input.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import { makeTinyDataset, type TinyDataset } from '../helpers/tiny-dataset';
import { createServingFixture, validInstance, type ServingFixture } from '../serving/fixture';

const REPO = path.resolve(__dirname, '..', '..');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mlops …` from the repository as a user would; `input` goes to its stdin. */
function mlops(args: string[], { input, env = {} }: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<CliResult>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/mlops.ts', ...args],
      { cwd: REPO, timeout: 60_000, env: { ...process.env, MLOPS_SERVING_URL: '', MLOPS_DEBUG: '', ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/** The data rows of the printed table: every line after the summary line and the header. */
function tableRows(stdout: string): string[][] {
  return stdout
    .trim()
    .split('\n')
    .slice(2)
    .map((line) => line.trim().split(/\s+/));
}

function assertPredictionRows(rows: string[][], labels: string[]): void {
  assert.deepEqual(
    rows.map((row) => row[0]),
    labels,
  );
  for (const [, probability, predictionId] of rows) {
    const p = Number(probability);
    assert.ok(p > 0 && p < 1, `click_probability ${probability} in (0, 1)`);
    assert.match(predictionId ?? '', /^[\w-]{40,}$/);
  }
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

void describe('mlops predict (prediction API client)', () => {
  let fixture: ServingFixture;
  let dataset: TinyDataset;
  let url: string;
  let tmp: string;

  before(async () => {
    fixture = await createServingFixture();
    const modelUri = await fixture.saveVersion('3');
    await fixture.deploy({ revision: 1, stable: { version: '3', modelUri } });
    ({ url } = await fixture.start());
    dataset = await makeTinyDataset({ rows: 12 });
    tmp = await fs.mkdtemp(path.join(fixture.storeUri, 'cli-'));
  });
  after(async () => {
    await dataset?.close();
    await fixture?.close();
  });

  void it('scores --rows rows of a dataset folder: one row per ad with its ad_id, probability and prediction id', async () => {
    const { code, stdout, stderr } = await mlops([
      'predict',
      '--model',
      'ctr',
      '--url',
      url,
      '--data',
      dataset.dir,
      '--rows',
      '3',
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^ctr v3: 3 predictions\n/);
    assert.match(stdout.split('\n')[1] ?? '', /^ad_id\s+click_probability\s+prediction_id$/);
    const expected = (await loadTrafficSamples(dataset.dir, 3)).map((sample) => sample.id);
    assertPredictionRows(tableRows(stdout), expected);
  });

  void it('sends an --instances file ({"instances": [...]}) and, from stdin, a bare array; rows by index', async () => {
    const file = path.join(tmp, 'instances.json');
    const instances = [await validInstance(), await validInstance({ device: 'desktop', hour: 2 })];
    await fs.writeFile(file, JSON.stringify({ instances }));
    const fromFile = await mlops(['predict', '--model', 'ctr', '--url', url, '--instances', file]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /^ctr v3: 2 predictions\n/);
    assertPredictionRows(tableRows(fromFile.stdout), ['0', '1']);

    // The server URL from the environment this time.
    const fromStdin = await mlops(['predict', '--model', 'ctr', '--instances', '-'], {
      input: JSON.stringify([{ ...instances[0], ad_id: 'mine-1' }]),
      env: { MLOPS_SERVING_URL: url },
    });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assertPredictionRows(tableRows(fromStdin.stdout), ['mine-1']);
  });

  void it("prints the server's JSON with --json, and reports a click for one of its prediction ids", async () => {
    const { code, stdout, stderr } = await mlops([
      'predict',
      '--model',
      'ctr',
      '--url',
      url,
      '--data',
      dataset.dir,
      '--rows',
      '2',
      '--json',
    ]);
    assert.equal(code, 0, stderr);
    const answer = JSON.parse(stdout) as {
      model_version: string;
      predictions: Array<{ click_probability: number; prediction_id: string }>;
    };
    assert.equal(answer.model_version, '3');
    assert.equal(answer.predictions.length, 2);
    const id = answer.predictions[0]!.prediction_id;

    const feedback = ['predict', 'feedback', '--url', url, '--prediction-id', id, '--clicked', '1'];
    const first = await mlops(feedback);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /feedback counted: clicked=1/);
    const again = await mlops(feedback);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already counted/);
    const forged = await mlops([...feedback.slice(0, 5), `${id.slice(0, -4)}AAAA`, '--clicked', '0']);
    assert.equal(forged.code, 1);
    assert.match(forged.stderr, /^error: the server did not count it: the prediction id is unknown/m);
  });

  void it('exits 1 with the reason for an unreachable server, an unknown model, bad instances or a missing folder', async () => {
    const notJson = path.join(tmp, 'not-json.json');
    await fs.writeFile(notJson, '{"instances": [');
    const wrongShape = path.join(tmp, 'wrong-shape.json');
    await fs.writeFile(wrongShape, JSON.stringify({ rows: [await validInstance()] }));
    const notAnObject = path.join(tmp, 'not-an-object.json');
    await fs.writeFile(notAnObject, JSON.stringify([await validInstance(), 'ad-1']));
    const missingField = path.join(tmp, 'missing-field.json');
    await fs.writeFile(missingField, JSON.stringify([await validInstance({ hour: undefined })]));
    const deadUrl = `http://127.0.0.1:${await closedPort()}`;
    const cases: Array<{ name: string; args: string[]; reason: RegExp }> = [
      {
        name: 'unreachable server',
        args: ['--model', 'ctr', '--url', deadUrl, '--data', dataset.dir],
        reason: new RegExp(
          `^error: cannot reach the prediction server at ${deadUrl.replaceAll('.', '\\.')} \\(ECONNREFUSED\\).*mlops dev`,
          'm',
        ),
      },
      {
        name: 'unknown model',
        args: ['--model', 'nope', '--url', url, '--data', dataset.dir],
        reason:
          /^error: the prediction server answered 404 model_not_found: no model named nope is served here/m,
      },
      {
        name: 'instances file that is not JSON',
        args: ['--model', 'ctr', '--url', url, '--instances', notJson],
        reason: /^error: --instances .*not-json\.json is not JSON: /m,
      },
      {
        name: 'instances file of the wrong shape',
        args: ['--model', 'ctr', '--url', url, '--instances', wrongShape],
        reason: /^error: --instances .*wrong-shape\.json: expected \{"instances"/m,
      },
      {
        name: 'instance that is not an object',
        args: ['--model', 'ctr', '--url', url, '--instances', notAnObject],
        reason:
          /^error: --instances .*not-an-object\.json: instances\[1\]: each instance must be a JSON object/m,
      },
      {
        name: 'instance missing a field',
        args: ['--model', 'ctr', '--url', url, '--instances', missingField],
        reason: /^error: the prediction server answered 400 invalid_request: .*hour/m,
      },
      {
        name: 'missing --data folder',
        args: ['--model', 'ctr', '--url', url, '--data', path.join(tmp, 'no-such-dir')],
        reason: /^error: --data .*no-such-dir: no such file or folder/m,
      },
      {
        name: 'neither --data nor --instances',
        args: ['--model', 'ctr', '--url', url],
        reason: /^error: give exactly one of --data DIR or --instances FILE/m,
      },
    ];
    const results = await Promise.all(cases.map(({ args }) => mlops(['predict', ...args])));
    cases.forEach(({ name, reason }, i) => {
      const { code, stdout, stderr } = results[i]!;
      assert.equal(code, 1, `${name}: exit ${code}\n${stdout}${stderr}`);
      assert.match(stderr, reason, name);
      assert.doesNotMatch(stderr, /^\s+at /m, `${name}: no stack trace`);
      assert.equal(stdout, '', `${name}: prints no table`);
    });
  });
});
