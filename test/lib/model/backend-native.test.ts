/**
 * The native-backend paths of loadTfBackend, exercised without a GPU or libtensorflow: a stand-in
 * `@tensorflow/tfjs-node-gpu` on NODE_PATH registers a 'tensorflow' backend the way the real one does,
 * and reports `isUsingGpuDevice` as TensorFlow would. Each case runs in a fresh process, since the
 * backend choice is made once per process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../../lib/model/backend';

const REPO = path.resolve(__dirname, '..', '..', '..');

interface Outcome {
  ok: boolean;
  info?: BackendInfo;
  skipped?: string[];
  message?: string;
}

let tmp: string;

/** Loads a backend in a child process with the stand-in package visible, and reports what it chose. */
function loadInChild(preference: string, env: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(tmp, 'load.ts'), preference],
      {
        cwd: REPO,
        timeout: 60_000,
        env: { ...process.env, NODE_PATH: path.join(tmp, 'modules'), MLOPS_TF_BACKEND: '', ...env },
      },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(line) as Outcome);
        } catch {
          reject(new Error(`child printed no result (${err?.message ?? 'exit 0'}): ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

void describe('loadTfBackend with a native binding', () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-backend-'));
    const fake = path.join(tmp, 'modules', '@tensorflow', 'tfjs-node-gpu');
    await fs.mkdir(fake, { recursive: true });
    await fs.writeFile(
      path.join(fake, 'package.json'),
      JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '4.22.0', main: 'index.js' }),
    );
    // The same @tensorflow/tfjs instance as the code under test, as npm's dedupe gives the real package.
    await fs.writeFile(
      path.join(fake, 'index.js'),
      `const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs'))});
const { MathBackendCPU } = require(${JSON.stringify(require.resolve('@tensorflow/tfjs-backend-cpu'))});
if (process.env.FAKE_BINDING_ERROR) throw new Error(process.env.FAKE_BINDING_ERROR);
tf.registerBackend('tensorflow', () => {
  const backend = new MathBackendCPU();
  backend.isUsingGpuDevice = process.env.FAKE_GPU === '1';
  return backend;
}, 3);
`,
    );
    await fs.writeFile(
      path.join(tmp, 'load.ts'),
      `import { loadTfBackend, type BackendPreference } from ${JSON.stringify(path.join(REPO, 'lib', 'model', 'backend'))};
loadTfBackend(process.argv[2] as BackendPreference).then(
  (loaded) => console.log(JSON.stringify({ ok: true, info: loaded.info, skipped: loaded.skipped })),
  (err: Error) => console.log(JSON.stringify({ ok: false, message: err.message })),
);
`,
    );
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  void it('takes tfjs-node-gpu first on auto and reports the GPU TensorFlow placed work on', async () => {
    const outcome = await loadInChild('auto', { FAKE_GPU: '1' });
    assert.equal(outcome.ok, true, outcome.message);
    assert.deepEqual(outcome.info, {
      package: 'tfjs-node-gpu',
      backend: 'tensorflow',
      device: 'GPU (CUDA)',
      gpu: true,
      tfjsVersion: tf.version_core,
    });
    assert.deepEqual(outcome.skipped, []);
  });

  void it('says so when tfjs-node-gpu loads on auto but TensorFlow finds no GPU', async () => {
    const outcome = await loadInChild('auto', { FAKE_GPU: '0' });
    assert.equal(outcome.ok, true, outcome.message);
    assert.equal(outcome.info?.package, 'tfjs-node-gpu');
    assert.equal(outcome.info?.gpu, false);
    assert.match(outcome.info?.device ?? '', /^CPU \(TensorFlow C library; tfjs-node-gpu found no GPU\)$/);
    assert.match(
      outcome.skipped?.join('\n') ?? '',
      /GPU: TensorFlow found no GPU device: check `nvidia-smi`/,
    );
  });

  void it('fails when tfjs-node-gpu is named but TensorFlow finds no GPU, naming what to check', async () => {
    const outcome = await loadInChild('tfjs-node-gpu', { FAKE_GPU: '0' });
    assert.equal(outcome.ok, false);
    assert.match(outcome.message ?? '', /'tfjs-node-gpu' was asked for by name, but TensorFlow found no GPU/);
    assert.match(outcome.message ?? '', /CUDA 11\.2 and cuDNN 8\.1/);
  });

  void it('tells an installed package whose native library fails to load from a missing one', async () => {
    const error = 'libtensorflow.so.2: cannot open shared object file: No such file or directory';
    const outcome = await loadInChild('tfjs-node-gpu', { FAKE_BINDING_ERROR: error });
    assert.equal(outcome.ok, false);
    assert.match(
      outcome.message ?? '',
      /@tensorflow\/tfjs-node-gpu is installed but failed to load \(libtensorflow\.so\.2/,
    );
    assert.match(outcome.message ?? '', /CUDA 11\.2 and cuDNN 8\.1/);
    assert.match(outcome.message ?? '', /allowScripts/);
  });

  void it('falls back past a broken tfjs-node-gpu on auto, keeping the reason', async () => {
    const outcome = await loadInChild('auto', { FAKE_BINDING_ERROR: 'libcudart.so.11.0: cannot open' });
    assert.equal(outcome.ok, true, outcome.message);
    assert.equal(outcome.info?.package, 'cpu');
    assert.match(outcome.skipped?.[0] ?? '', /tfjs-node-gpu is installed but failed to load \(libcudart/);
    assert.match(outcome.skipped?.[1] ?? '', /@tensorflow\/tfjs-node is not installed/);
  });
});
