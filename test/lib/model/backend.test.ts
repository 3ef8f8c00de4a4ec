import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadTfBackend } from '../../../lib/model';

/** Filter gradients of a few convolutions, covering strides, padding and odd shapes. */
function convFilterGradients(): Float32Array[] {
  const cases: Array<
    [[number, number, number, number], [number, number, number, number], number, 'same' | 'valid']
  > = [
    [[4, 9, 7, 3], [3, 3, 3, 5], 1, 'same'],
    [[2, 8, 8, 4], [3, 3, 4, 6], 2, 'same'],
    [[3, 10, 11, 2], [2, 4, 2, 3], 1, 'valid'],
    [[2, 7, 7, 3], [3, 3, 3, 2], 2, 'valid'],
  ];
  return cases.map(([xShape, filterShape, stride, pad]) =>
    tf.tidy(() => {
      const x = tf.randomNormal<tf.Rank.R4>(xShape, 0, 1, 'float32', 7);
      const filter = tf.randomNormal<tf.Rank.R4>(filterShape, 0, 1, 'float32', 8);
      const gradient = tf.grad((w) =>
        tf
          .conv2d(x, w as tf.Tensor4D, stride, pad)
          .square()
          .sum(),
      );
      return gradient(filter).dataSync() as Float32Array;
    }),
  );
}

/** Input gradients of max pooling: odd sizes, 'same' padding, overlapping windows, and tied maxima. */
function maxPoolGradients(): Float32Array[] {
  const cases: Array<[[number, number, number, number], [number, number], number, 'same' | 'valid']> = [
    [[2, 8, 8, 3], [2, 2], 2, 'same'],
    [[2, 7, 9, 2], [2, 2], 2, 'same'],
    [[1, 9, 8, 4], [3, 3], 1, 'same'],
    [[3, 9, 9, 2], [3, 2], 2, 'valid'],
  ];
  return cases.map(([xShape, poolSize, stride, pad]) =>
    tf.tidy(() => {
      // Rounded to one decimal so windows hold ties.
      const x: tf.Tensor4D = tf.randomNormal<tf.Rank.R4>(xShape, 0, 1, 'float32', 9).mul(10).round().div(10);
      const weights = tf.randomNormal(tf.maxPool(x, poolSize, stride, pad).shape, 0, 1, 'float32', 10);
      const gradient = tf.grad((input) =>
        tf
          .maxPool(input as tf.Tensor4D, poolSize, stride, pad)
          .mul(weights)
          .sum(),
      );
      return gradient(x).dataSync() as Float32Array;
    }),
  );
}

void describe('loadTfBackend', () => {
  let stockGradients: Float32Array[];
  let stockPoolGradients: Float32Array[];
  let stockKernel: tf.KernelFunc | undefined;

  before(async () => {
    // Computed with TF.js's own CPU kernel, before loadTfBackend replaces it.
    await tf.setBackend('cpu');
    stockGradients = convFilterGradients();
    stockPoolGradients = maxPoolGradients();
    stockKernel = tf.getKernel(tf.Conv2DBackpropFilter, 'cpu')?.kernelFunc;
  });

  void it('fails with install instructions when tfjs-node-gpu is named but missing', async () => {
    await assert.rejects(loadTfBackend('tfjs-node-gpu'), (err: Error) => {
      assert.match(
        err.message,
        /'tfjs-node-gpu' is not available: @tensorflow\/tfjs-node-gpu is not installed/,
      );
      assert.match(err.message, /npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
      assert.match(err.message, /CUDA 11\.2 and cuDNN 8\.1/);
      return true;
    });
  });

  void it('falls back to the pure-JS CPU backend on auto and says so', async () => {
    const loaded = await loadTfBackend('auto');
    assert.equal(loaded.backend, 'cpu');
    assert.equal(loaded.package, 'cpu');
    assert.equal(loaded.device, 'cpu (TF.js pure JavaScript)');
    assert.deepEqual(loaded.info, {
      package: 'cpu',
      backend: 'cpu',
      device: 'cpu (TF.js pure JavaScript)',
      gpu: false,
      tfjsVersion: tf.version_core,
    });
    assert.equal(loaded.tf.getBackend(), 'cpu');
    assert.equal(loaded.skipped.length, 2);
    assert.match(loaded.skipped[0]!, /'tfjs-node-gpu' is not available/);
    assert.equal(await loadTfBackend(), loaded, 'memoised');
    assert.equal(await loadTfBackend('cpu'), loaded);
  });

  void it('still explains how to install a named native backend once CPU is active', async () => {
    await assert.rejects(loadTfBackend('tfjs-node'), /npm install @tensorflow\/tfjs-node@/);
  });

  void it('rejects an unknown MLOPS_TF_BACKEND value', async () => {
    process.env.MLOPS_TF_BACKEND = 'tpu';
    try {
      await assert.rejects(
        loadTfBackend(),
        /MLOPS_TF_BACKEND must be one of auto, tfjs-node-gpu, tfjs-node, wasm, cpu; got .tpu./,
      );
    } finally {
      delete process.env.MLOPS_TF_BACKEND;
    }
  });

  void it('computes conv filter gradients exactly as the stock CPU kernel does', () => {
    assert.notEqual(tf.getKernel(tf.Conv2DBackpropFilter, 'cpu')?.kernelFunc, stockKernel, 'kernel replaced');
    const fast = convFilterGradients();
    fast.forEach((gradient, i) => assert.deepEqual(gradient, stockGradients[i], `case ${i}`));
  });

  void it('computes max-pool gradients exactly as the stock CPU kernel does', () => {
    const fast = maxPoolGradients();
    fast.forEach((gradient, i) => assert.deepEqual(gradient, stockPoolGradients[i], `case ${i}`));
  });
});
