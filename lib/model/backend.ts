/** Chooses the TF.js backend once per process: tfjs-node-gpu, then tfjs-node, then pure-JS CPU. */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';

/** Which backend to load; 'auto' takes the fastest one that loads. */
export type BackendPreference = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'cpu';

/** The loaded backend: the TF.js core to use, the backend's registry name and a human-readable device. */
export interface TfBackend {
  tf: typeof tf;
  /** TF.js backend name, e.g. 'tensorflow' (tfjs-node, tfjs-node-gpu) or 'cpu'. */
  backend: string;
  /** What the work runs on, for logs: 'GPU (CUDA)', 'CPU (TensorFlow C library)', 'cpu (TF.js pure JavaScript)'. */
  device: string;
  /** The preference that was satisfied (never 'auto'). */
  package: Exclude<BackendPreference, 'auto'>;
}

const PREFERENCES: readonly BackendPreference[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'cpu'];

const NATIVE = {
  'tfjs-node-gpu': {
    module: '@tensorflow/tfjs-node-gpu',
    device: 'GPU (CUDA)',
    install:
      'install it with `npm install @tensorflow/tfjs-node-gpu@4.22` on a Linux x86-64 host with CUDA 11.2 and cuDNN 8.1 ' +
      '(its install script downloads libtensorflow; see https://github.com/tensorflow/tfjs/tree/master/tfjs-node)',
  },
  'tfjs-node': {
    module: '@tensorflow/tfjs-node',
    device: 'CPU (TensorFlow C library)',
    install:
      'install it with `npm install @tensorflow/tfjs-node@4.22` (its install script downloads libtensorflow; ' +
      'see https://github.com/tensorflow/tfjs/tree/master/tfjs-node)',
  },
} as const;

/** Node's require, for packages that may be absent; a static import would fail the whole module. */
const requireOptional = createRequire(__filename);

let loading: { result: Promise<TfBackend> } | undefined;

/** Reads MLOPS_TF_BACKEND, failing on values that are not a known preference. */
function preferenceFromEnv(): BackendPreference | undefined {
  const value = process.env.MLOPS_TF_BACKEND?.trim();
  if (!value) return undefined;
  if (!(PREFERENCES as readonly string[]).includes(value)) {
    throw new Error(`MLOPS_TF_BACKEND must be one of ${PREFERENCES.join(', ')}; got '${value}'`);
  }
  return value as BackendPreference;
}

/** Requires a native binding; it registers its 'tensorflow' backend into the shared TF.js core as a side effect. */
function requireNative(name: keyof typeof NATIVE): void {
  const spec = NATIVE[name];
  try {
    requireOptional(spec.module);
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new Error(`TF.js backend '${name}' is not available (${reason}); ${spec.install}`, { cause: err });
  }
}

async function loadNative(name: keyof typeof NATIVE): Promise<TfBackend> {
  const spec = NATIVE[name];
  requireNative(name);
  // A copy of tfjs-core nested under the native package would have taken the registration instead.
  if (!tf.findBackendFactory('tensorflow')) {
    throw new Error(
      `${spec.module} loaded but did not register the 'tensorflow' backend with this process's @tensorflow/tfjs ` +
        `(${tf.version_core}); install matching versions so npm dedupes @tensorflow/tfjs-core`,
    );
  }
  if (!(await tf.setBackend('tensorflow'))) {
    throw new Error(`${spec.module} loaded but its 'tensorflow' backend failed to initialise`);
  }
  return { tf, backend: 'tensorflow', device: spec.device, package: name };
}

/** The slice of the CPU backend's kernel arguments the replacement kernel reads. */
interface CpuKernelArgs {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: {
    data: { get(id: tf.TensorInfo['dataId']): { values: ArrayLike<number> } };
    makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
  };
  attrs: {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
}

let fastKernelInstalled = false;

/**
 * Replaces the pure-JS CPU backend's Conv2DBackpropFilter (channels-last) with a flat-array loop.
 * The stock kernel indexes through TensorBuffer.get per element and takes ~90% of a training step;
 * this one computes the same sums (accumulated in float64) roughly 20× faster.
 */
export function installFastCpuKernels(): void {
  if (fastKernelInstalled) return;
  fastKernelInstalled = true;
  const stock = tf.getKernel(tf.Conv2DBackpropFilter, 'cpu');
  if (!stock) return;
  const kernelFunc = (params: Parameters<tf.KernelFunc>[0]) => {
    const args = params as unknown as CpuKernelArgs;
    const { x, dy } = args.inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(dataFormat),
    );
    if (info.dataFormat !== 'channelsLast') return stock.kernelFunc(params);
    const xs = args.backend.data.get(x.dataId).values;
    const dys = args.backend.data.get(dy.dataId).values;
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
    const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const sums = new Float64Array(filterHeight * filterWidth * inChannels * outChannels);
    for (let b = 0; b < batchSize; b++) {
      for (let yR = 0; yR < outHeight; yR++) {
        for (let yC = 0; yC < outWidth; yC++) {
          const dyOffset = ((b * outHeight + yR) * outWidth + yC) * outChannels;
          for (let wR = 0; wR < filterHeight; wR++) {
            const xR = yR * strideHeight + wR - top;
            if (xR < 0 || xR >= inHeight) continue;
            for (let wC = 0; wC < filterWidth; wC++) {
              const xC = yC * strideWidth + wC - left;
              if (xC < 0 || xC >= inWidth) continue;
              const xOffset = ((b * inHeight + xR) * inWidth + xC) * inChannels;
              const wOffset = (wR * filterWidth + wC) * inChannels * outChannels;
              for (let d1 = 0; d1 < inChannels; d1++) {
                const xValue = xs[xOffset + d1]!;
                const row = wOffset + d1 * outChannels;
                for (let d2 = 0; d2 < outChannels; d2++) {
                  sums[row + d2] = sums[row + d2]! + xValue * dys[dyOffset + d2]!;
                }
              }
            }
          }
        }
      }
    }
    return args.backend.makeTensorInfo(info.filterShape, 'float32', Float32Array.from(sums));
  };
  tf.unregisterKernel(tf.Conv2DBackpropFilter, 'cpu');
  tf.registerKernel({ ...stock, kernelFunc });
}

async function loadCpu(): Promise<TfBackend> {
  if (!(await tf.setBackend('cpu'))) throw new Error("TF.js 'cpu' backend failed to initialise");
  installFastCpuKernels();
  // We report the backend choice ourselves; silence the CPU backend's first-use banner advertising tfjs-node.
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if (cpu.firstUse === true) cpu.firstUse = false;
  return { tf, backend: 'cpu', device: 'cpu (TF.js pure JavaScript)', package: 'cpu' };
}

async function load(preference: BackendPreference): Promise<TfBackend> {
  if (preference === 'cpu') return loadCpu();
  if (preference !== 'auto') return loadNative(preference);
  for (const name of ['tfjs-node-gpu', 'tfjs-node'] as const) {
    try {
      return await loadNative(name);
    } catch {
      // Absent native bindings are the normal case off GPU nodes; fall through to the next choice.
    }
  }
  return loadCpu();
}

/**
 * Loads and activates a TF.js backend (argument, else MLOPS_TF_BACKEND, else 'auto'); memoised per process.
 * A later call naming a different backend than the one already active fails instead of silently switching.
 */
export async function loadTfBackend(preference?: BackendPreference): Promise<TfBackend> {
  const wanted = preference ?? preferenceFromEnv() ?? 'auto';
  if (!PREFERENCES.includes(wanted)) {
    throw new Error(
      `TF.js backend preference must be one of ${PREFERENCES.join(', ')}; got '${String(wanted)}'`,
    );
  }
  if (!loading) {
    const result = load(wanted).then(async (backend) => {
      await tf.ready();
      return backend;
    });
    loading = { result };
    // A failed load is not memoised: the caller may install the package or pick another backend and retry.
    void result.catch(() => {
      if (loading?.result === result) loading = undefined;
    });
    return result;
  }
  const active = await loading.result;
  if (wanted === 'auto' || wanted === active.package) return active;
  // Give the install hint when the named package is missing, rather than only "already active".
  if (wanted !== 'cpu') requireNative(wanted);
  throw new Error(
    `TF.js backend '${active.package}' is already active in this process; cannot switch to '${wanted}'`,
  );
}
