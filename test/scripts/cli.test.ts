import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { AD_COLUMNS } from '../../lib/dataset/schema';

const REPO = path.resolve(__dirname, '..', '..');
/** Nothing listens on port 1, so any command that reaches for Temporal fails to connect. */
const NO_TEMPORAL = '127.0.0.1:1';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `mlops …` as a user would, from the repository, with Temporal pointed at nothing. */
function mlops(args: string[], { timeoutMs = 30_000 } = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/mlops.ts', ...args],
      {
        cwd: REPO,
        timeout: timeoutMs,
        env: { ...process.env, TEMPORAL_ADDRESS: NO_TEMPORAL, MLOPS_DEBUG: '' },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

let tmp: string;

// The connection test spends ~10 s waiting for the SDK's connect deadline; everything else runs
// one process at a time beside it (two cores: more at once slows every process down).
void describe('mlops CLI', { concurrency: 2 }, () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-cli-'));
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  void it('pipeline status fails with a connection error naming the address when Temporal is unreachable', async () => {
    const { code, stderr, ms } = await mlops(['pipeline', 'status', 'some-id'], { timeoutMs: 20_000 });
    assert.equal(code, 1, `exit code ${code} after ${ms} ms: ${stderr}`);
    assert.ok(ms < 15_000, `took ${ms} ms`);
    assert.match(stderr, /^error: cannot reach Temporal at 127\.0\.0\.1:1/m);
    assert.match(stderr, /TEMPORAL_ADDRESS/);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  });

  void it('lists the dev, demo, data and pipeline commands in --help', async () => {
    const { code, stdout } = await mlops(['--help']);
    assert.equal(code, 0);
    for (const command of ['dev', 'demo', 'data', 'pipeline']) {
      assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'), `${command} in:\n${stdout}`);
    }
  });

  void describe('data generate', () => {
    void it('refuses --rows 0 with a clear message', async () => {
      const { code, stderr } = await mlops([
        'data',
        'generate',
        '--out',
        path.join(tmp, 'zero'),
        '--rows',
        '0',
      ]);
      assert.notEqual(code, 0);
      assert.match(stderr, /--rows must be at least 1/);
      await assert.rejects(fs.access(path.join(tmp, 'zero')), 'nothing written');
    });

    void it('refuses a --rows that is not a number', async () => {
      const { code, stderr } = await mlops([
        'data',
        'generate',
        '--out',
        path.join(tmp, 'abc'),
        '--rows',
        'abc',
      ]);
      assert.notEqual(code, 0);
      assert.match(stderr, /--rows must be a whole number/);
    });

    void it('refuses a missing --out, naming the option', async () => {
      const { code, stderr } = await mlops(['data', 'generate', '--rows', '5']);
      assert.notEqual(code, 0);
      assert.match(stderr, /required option '--out <dir>' not specified/);
    });

    void it('refuses more corrupt rows than rows', async () => {
      const { code, stderr } = await mlops([
        'data',
        'generate',
        '--out',
        path.join(tmp, 'over'),
        '--rows',
        '5',
        '--corrupt',
        '6',
      ]);
      assert.notEqual(code, 0);
      assert.match(stderr, /--corrupt cannot exceed --rows/);
    });

    void it('writes ads.csv, the images and the ground truth', async () => {
      const out = path.join(tmp, 'generated');
      const { code, stdout, stderr } = await mlops([
        'data',
        'generate',
        '--out',
        out,
        '--rows',
        '20',
        '--seed',
        '3',
        '--image-size',
        '16',
      ]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /Generated 20 ads/);
      assert.ok(stdout.includes(path.join(out, 'ads.csv')), stdout);
      const rows = parse<Record<string, string>>(await fs.readFile(path.join(out, 'ads.csv')), {
        columns: true,
      });
      assert.equal(rows.length, 20);
      assert.deepEqual(Object.keys(rows[0]!), [...AD_COLUMNS]);
      assert.equal((await fs.readdir(path.join(out, 'images'))).length, 20);
      await fs.access(path.join(out, 'ground_truth.csv'));
    });
  });

  void describe('pipeline', () => {
    void it('start refuses a config file that is not JSON, before reaching for Temporal', async () => {
      const config = path.join(tmp, 'broken.json');
      await fs.writeFile(config, '{"train": {');
      const { code, stderr } = await mlops([
        'pipeline',
        'start',
        '--model',
        'ctr',
        '--data',
        'x',
        '--config',
        config,
      ]);
      assert.equal(code, 1);
      assert.match(
        stderr,
        new RegExp(`config file ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON`),
      );
    });

    void it('start lists every problem of an invalid config, without a Temporal server', async () => {
      const config = path.join(tmp, 'invalid.json');
      await fs.writeFile(config, JSON.stringify({ train: { epochs: 0 }, bogus: 1 }));
      const { code, stderr, ms } = await mlops([
        'pipeline',
        'start',
        '--model',
        'ctr',
        '--data',
        'x',
        '--config',
        config,
      ]);
      assert.equal(code, 1);
      assert.match(stderr, /Invalid pipeline configuration/);
      assert.match(stderr, /train\.epochs: .*>=\s*1/);
      assert.match(stderr, /bogus/);
      assert.doesNotMatch(stderr, /connect/i, 'config is checked before connecting');
      assert.ok(ms < 8_000, `took ${ms} ms: it waited for a connection`);
    });

    void it('start refuses a model name with spaces', async () => {
      const { code, stderr } = await mlops(['pipeline', 'start', '--model', 'my model', '--data', 'x']);
      assert.equal(code, 1);
      assert.match(stderr, /--model: model names use letters, digits, - and _/);
    });
  });
});
