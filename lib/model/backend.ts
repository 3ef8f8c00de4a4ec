/**
 * Chooses the TF.js backend once per process: tfjs-node-gpu, then tfjs-node, then (for inference)
 * WebAssembly, then pure-JS CPU.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';

/** Which backend to load; 'auto' takes the fastest one that loads. */
export type BackendPreference = 'auto' | 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

/** What a heartbeat and a model's metadata record about the backend: small, serialisable. */
export interface BackendInfo {
  /** The package that was loaded (never 'auto'). */
  package: Exclude<BackendPreference, 'auto'>;
  /** TF.js backend name: 'tensorflow' (tfjs-node, tfjs-node-gpu) or 'cpu'. */
  backend: string;
  /** What the work runs on, for people: 'GPU (CUDA)', 'CPU (TensorFlow C library)', 'cpu (TF.js pure JavaScript)'. */
  device: string;
  /** True only when TensorFlow itself reports that it placed work on a GPU. */
  gpu: boolean;
  /** @tensorflow/tfjs-core version, which fixes the kernels' numerics. */
  tfjsVersion: string;
}

/** The loaded backend: the TF.js core to use, the backend's registry name and a human-readable device. */
export interface TfBackend {
  tf: typeof tf;
  /** TF.js backend name, e.g. 'tensorflow' (tfjs-node, tfjs-node-gpu) or 'cpu'. */
  backend: string;
  /** What the work runs on, for logs: 'GPU (CUDA)', 'CPU (TensorFlow C library)', 'cpu (TF.js pure JavaScript)'. */
  device: string;
  /** The preference that was satisfied (never 'auto'). */
  package: Exclude<BackendPreference, 'auto'>;
  /** Whether TensorFlow placed work on a GPU (tfjs-node-gpu falls back to the CPU when it finds none). */
  gpu: boolean;
  /** The same facts as a plain object, for heartbeats and model metadata. */
  info: BackendInfo;
  /** Why 'auto' passed over faster backends (or a GPU), one line each, so a worker can log it. */
  skipped: string[];
}

const PREFERENCES: readonly BackendPreference[] = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

const GPU_REQUIREMENTS =
  'Linux x86-64 with an NVIDIA driver newer than 450, CUDA 11.2 and cuDNN 8.1 (what its TensorFlow 2.9.1 library was built against)';

const NATIVE = {
  'tfjs-node-gpu': {
    module: '@tensorflow/tfjs-node-gpu',
    install:
      `install it with \`npm install @tensorflow/tfjs-node-gpu@4.22.0\` on ${GPU_REQUIREMENTS}; ` +
      'its install script downloads libtensorflow-gpu-linux-x86_64-2.9.1 from storage.googleapis.com, so it must be ' +
      'allowed to run (package.json "allowScripts" with npm 11) and reach that host; see "Running workers on GPU nodes" in README.md',
  },
  'tfjs-node': {
    module: '@tensorflow/tfjs-node',
    install:
      'install it with `npm install @tensorflow/tfjs-node@4.22.0`; its install script downloads ' +
      'libtensorflow-cpu 2.9.1 from storage.googleapis.com, so it must be allowed to run and reach that host',
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
    const error = err as NodeJS.ErrnoException;
    const reason = error.message.split('\n')[0];
    // The package itself missing, or present but its native addon / libtensorflow failing to load.
    const absent = error.code === 'MODULE_NOT_FOUND' && reason?.includes(`'${spec.module}'`) === true;
    const state = absent ? 'is not installed' : `is installed but failed to load (${reason})`;
    throw new Error(`TF.js backend '${name}' is not available: ${spec.module} ${state}; ${spec.install}`, {
      cause: err,
    });
  }
}

function backendResult(
  name: Exclude<BackendPreference, 'auto'>,
  backend: string,
  device: string,
  gpu: boolean,
): TfBackend {
  const info: BackendInfo = { package: name, backend, device, gpu, tfjsVersion: tf.version_core };
  return { tf, backend, device, package: name, gpu, info, skipped: [] };
}

/** tfjs-node-gpu quietly runs on the CPU when TensorFlow finds no usable GPU; its backend says which. */
function usesGpu(): boolean {
  return (tf.backend() as unknown as { isUsingGpuDevice?: unknown }).isUsingGpuDevice === true;
}

/** Why TensorFlow saw no GPU, and what to check; for logs and for a named tfjs-node-gpu that cannot honour its name. */
const NO_GPU_HINT =
  'TensorFlow found no GPU device: check `nvidia-smi`, that the CUDA 11.2 and cuDNN 8.1 libraries ' +
  '(libcudart.so.11.0, libcudnn.so.8) are on the loader path, and CUDA_VISIBLE_DEVICES / the nvidia.com/gpu resource; ' +
  "TensorFlow's own log lines above name the library it could not open";

async function loadNative(name: keyof typeof NATIVE, strict: boolean): Promise<TfBackend> {
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
  if (name === 'tfjs-node') return backendResult(name, 'tensorflow', 'CPU (TensorFlow C library)', false);
  if (usesGpu()) return backendResult(name, 'tensorflow', 'GPU (CUDA)', true);
  // Named explicitly, a GPU backend that trains on the CPU is a broken GPU node, not a preference met.
  if (strict) throw new Error(`TF.js backend 'tfjs-node-gpu' was asked for by name, but ${NO_GPU_HINT}`);
  const result = backendResult(
    name,
    'tensorflow',
    'CPU (TensorFlow C library; tfjs-node-gpu found no GPU)',
    false,
  );
  result.skipped.push(`GPU: ${NO_GPU_HINT}`);
  return result;
}

/** The slice of the CPU backend's kernel arguments the replacement kernels read. */
interface CpuKernelArgs<Inputs, Attrs> {
  inputs: Inputs;
  backend: {
    data: { get(id: tf.TensorInfo['dataId']): { values: ArrayLike<number> } };
    makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
  };
  attrs: Attrs;
}

type Conv2DBackpropFilterArgs = CpuKernelArgs<
  { x: tf.TensorInfo; dy: tf.TensorInfo },
  {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  }
>;

type MaxPoolGradArgs = CpuKernelArgs<
  { dy: tf.TensorInfo; input: tf.TensorInfo },
  {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  }
>;

type Shape4 = [number, number, number, number];

/** dW[fh, fw, ci, co] = Σ x[b, ·, ·, ci] · dy[b, ·, ·, co] over flat arrays, in the stock kernel's summation order. */
function conv2dBackpropFilter(stock: tf.KernelConfig): tf.KernelFunc {
  return (params) => {
    const args = params as unknown as Conv2DBackpropFilterArgs;
    const { x, dy } = args.inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs;
    const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4,
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      format,
    );
    if (info.dataFormat !== 'channelsLast') return stock.kernelFunc(params);
    const xs = args.backend.data.get(x.dataId).values;
    const dys = args.backend.data.get(dy.dataId).values;
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
    const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
    const { top, left } = info.padInfo;
    // float64 accumulators, like the stock kernel's JS-number running sum.
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
}

/** Routes each output's gradient to the first maximum of its window, as the stock kernel does, by scattering. */
function maxPoolGrad(stock: tf.KernelConfig): tf.KernelFunc {
  return (params) => {
    const args = params as unknown as MaxPoolGradArgs;
    const { dy, input } = args.inputs;
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as Shape4,
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return stock.kernelFunc(params);
    const xs = args.backend.data.get(input.dataId).values;
    const dys = args.backend.data.get(dy.dataId).values;
    const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
    const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
    const { top, left } = info.padInfo;
    const sums = new Float64Array(batchSize * inHeight * inWidth * channels);
    for (let b = 0; b < batchSize; b++) {
      for (let yR = 0; yR < outHeight; yR++) {
        const rMin = Math.max(0, yR * strideHeight - top);
        const rMax = Math.min(inHeight, yR * strideHeight - top + filterHeight);
        for (let yC = 0; yC < outWidth; yC++) {
          const cMin = Math.max(0, yC * strideWidth - left);
          const cMax = Math.min(inWidth, yC * strideWidth - left + filterWidth);
          const dyOffset = ((b * outHeight + yR) * outWidth + yC) * channels;
          for (let d = 0; d < channels; d++) {
            let best = Number.NEGATIVE_INFINITY;
            let bestIndex = -1;
            for (let xR = rMin; xR < rMax; xR++) {
              for (let xC = cMin; xC < cMax; xC++) {
                const index = ((b * inHeight + xR) * inWidth + xC) * channels + d;
                if (xs[index]! > best) {
                  best = xs[index]!;
                  bestIndex = index;
                }
              }
            }
            // No maximum (all NaN or -Infinity) means no gradient, as in the stock kernel.
            if (bestIndex >= 0) sums[bestIndex] = sums[bestIndex]! + dys[dyOffset + d]!;
          }
        }
      }
    }
    return args.backend.makeTensorInfo(input.shape, 'float32', Float32Array.from(sums));
  };
}

let fastKernelsInstalled = false;

/**
 * Replaces two pure-JS CPU kernels that dominate a training step, Conv2DBackpropFilter and MaxPoolGrad.
 * The stock ones index through TensorBuffer.get per element (conv filter gradients were ~90% of a step);
 * these loop over flat arrays and give the same results, making CPU training ~7–9× faster.
 */
export function installFastCpuKernels(): void {
  if (fastKernelsInstalled) return;
  fastKernelsInstalled = true;
  // Escape hatch for comparisons and for ruling the replacements out when a result looks wrong.
  if (process.env.MLOPS_TF_STOCK_CPU_KERNELS === '1') return;
  const replacements: Array<[string, (stock: tf.KernelConfig) => tf.KernelFunc]> = [
    [tf.Conv2DBackpropFilter, conv2dBackpropFilter],
    [tf.MaxPoolGrad, maxPoolGrad],
  ];
  for (const [name, make] of replacements) {
    const stock = tf.getKernel(name, 'cpu');
    if (!stock) continue;
    tf.unregisterKernel(name, 'cpu');
    tf.registerKernel({ ...stock, kernelFunc: make(stock) });
  }
}

async function loadCpu(): Promise<TfBackend> {
  if (!(await tf.setBackend('cpu'))) throw new Error("TF.js 'cpu' backend failed to initialise");
  installFastCpuKernels();
  // We report the backend choice ourselves; silence the CPU backend's first-use banner advertising tfjs-node.
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if (cpu.firstUse === true) cpu.firstUse = false;
  return backendResult('cpu', 'cpu', 'cpu (TF.js pure JavaScript)', false);
}

/**
 * TF.js's WebAssembly backend (XNNPACK kernels, SIMD where the CPU has it): many times the pure-JS
 * backend's speed at inference, with the same predictions to float32 rounding
 * (test/lib/model/wasm-backend.test.ts). Training stays on the CPU backend, whose gradient kernels
 * this project has tuned and tested.
 */
async function loadWasm(): Promise<TfBackend> {
  // Registers the 'wasm' backend as a side effect; its .wasm files ship in the package.
  requireOptional('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error("TF.js 'wasm' backend failed to initialise");
  await tf.ready();
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  return backendResult('wasm', 'wasm', `CPU (TF.js WebAssembly${simd ? ', SIMD' : ''})`, false);
}

async function load(preference: BackendPreference, inference: boolean): Promise<TfBackend> {
  if (preference === 'cpu') return loadCpu();
  if (preference === 'wasm') return loadWasm();
  if (preference !== 'auto') return loadNative(preference, true);
  const skipped: string[] = [];
  for (const name of ['tfjs-node-gpu', 'tfjs-node'] as const) {
    try {
      const loaded = await loadNative(name, false);
      return { ...loaded, skipped: [...skipped, ...loaded.skipped] };
    } catch (err) {
      // Absent native bindings are the normal case off GPU nodes; note why and try the next choice.
      skipped.push((err as Error).message);
    }
  }
  if (inference) {
    try {
      return { ...(await loadWasm()), skipped };
    } catch (err) {
      skipped.push(`TF.js backend 'wasm' is not available: ${(err as Error).message}`);
    }
  }
  return { ...(await loadCpu()), skipped };
}

/**
 * Loads and activates a TF.js backend (argument, else MLOPS_TF_BACKEND, else 'auto'); memoised per process.
 * A later call naming a different backend than the one already active fails instead of silently switching.
 * `inference` (the prediction server) lets 'auto' take the WebAssembly backend before the pure-JS one.
 */
export async function loadTfBackend(
  preference?: BackendPreference,
  options: { inference?: boolean } = {},
): Promise<TfBackend> {
  const wanted = preference ?? preferenceFromEnv() ?? 'auto';
  if (!PREFERENCES.includes(wanted)) {
    throw new Error(
      `TF.js backend preference must be one of ${PREFERENCES.join(', ')}; got '${String(wanted)}'`,
    );
  }
  if (!loading) {
    const result = load(wanted, options.inference === true).then(async (backend) => {
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
  if (wanted !== 'cpu' && wanted !== 'wasm') requireNative(wanted);
  throw new Error(
    `TF.js backend '${active.package}' is already active in this process; cannot switch to '${wanted}'`,
  );
}
