/**
 * Runs the model for predict requests: directly, or micro-batched, where concurrent requests for the same
 * loaded version are queued and answered by one `predictProbabilities` call.
 */
import { predictProbabilities, type ModelInput } from '../lib/model';
import { HttpError } from './errors';
import type { LoadedVersion } from './loaded-version';
import type { PredictionMetrics } from './metrics';

/**
 * Micro-batching settings: a batch runs once `maxBatchSize` instances wait or `maxWaitMs` after its first;
 * `maxWaitMs: 0` batches only the requests that became ready in the same event-loop turn.
 */
export interface BatchingOptions {
  maxBatchSize: number;
  maxWaitMs: number;
}

/** Turns one request's inputs into probabilities, in input order. */
export interface Predictor {
  predict(loaded: LoadedVersion, inputs: readonly ModelInput[]): Promise<Float32Array>;
  /** Runs every queued batch now; stop() calls it so nothing waits out its timer. */
  flush(): void;
}

/** Where a failed batch is reported once, rather than once per request it fails. */
export interface BatchLog {
  error(obj: object, msg: string): void;
}

interface Waiting {
  inputs: readonly ModelInput[];
  resolve(probabilities: Float32Array): void;
  reject(error: unknown): void;
}

interface Batch {
  loaded: LoadedVersion;
  waiting: Waiting[];
  size: number;
  cancelTimer: () => void;
  /** The batch's own hold on the version, so it cannot be freed while the batch is queued or running. */
  release: () => void;
}

/** Builds the predictor the options ask for; batching is off when false or when maxBatchSize ≤ 1. */
export function createPredictor(
  batching: BatchingOptions | false | undefined,
  metrics: PredictionMetrics,
  log: BatchLog,
): Predictor {
  if (!batching || batching.maxBatchSize <= 1) return new DirectPredictor(metrics);
  return new MicroBatcher(batching, metrics, log);
}

/** One model call per request. */
class DirectPredictor implements Predictor {
  constructor(private readonly metrics: PredictionMetrics) {}

  predict(loaded: LoadedVersion, inputs: readonly ModelInput[]): Promise<Float32Array> {
    this.metrics.batchSize.observe({ model: loaded.model, version: loaded.version }, inputs.length);
    return predictProbabilities(loaded.bundle, inputs);
  }

  flush(): void {}
}

/** Queues requests per loaded version and runs each queue as one model call. */
export class MicroBatcher implements Predictor {
  private readonly open = new Map<LoadedVersion, Batch>();

  constructor(
    private readonly options: BatchingOptions,
    private readonly metrics: PredictionMetrics,
    private readonly log: BatchLog,
  ) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw new RangeError('batching.maxBatchSize must be a positive integer');
    }
    if (!Number.isFinite(options.maxWaitMs) || options.maxWaitMs < 0) {
      throw new RangeError('batching.maxWaitMs must be a number ≥ 0');
    }
  }

  predict(loaded: LoadedVersion, inputs: readonly ModelInput[]): Promise<Float32Array> {
    return new Promise<Float32Array>((resolve, reject) => {
      const current = this.open.get(loaded);
      // A request that would push the open batch past the limit goes into the next one, so batches stay bounded.
      if (current && current.size + inputs.length > this.options.maxBatchSize) this.run(current);
      const batch = this.open.get(loaded) ?? this.openBatch(loaded);
      batch.waiting.push({ inputs, resolve, reject });
      batch.size += inputs.length;
      if (batch.size >= this.options.maxBatchSize) this.run(batch);
    });
  }

  flush(): void {
    for (const batch of [...this.open.values()]) this.run(batch);
  }

  private openBatch(loaded: LoadedVersion): Batch {
    const batch: Batch = { loaded, waiting: [], size: 0, release: loaded.acquire(), cancelTimer: () => {} };
    const run = () => this.run(batch);
    // setTimeout(0) would still wait about a millisecond; setImmediate runs right after this turn's I/O.
    if (this.options.maxWaitMs > 0) {
      const timer = setTimeout(run, this.options.maxWaitMs);
      batch.cancelTimer = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(run);
      batch.cancelTimer = () => clearImmediate(immediate);
    }
    this.open.set(loaded, batch);
    return batch;
  }

  private run(batch: Batch): void {
    if (this.open.get(batch.loaded) !== batch) return;
    this.open.delete(batch.loaded);
    batch.cancelTimer();
    void this.execute(batch);
  }

  private async execute(batch: Batch): Promise<void> {
    const { loaded, waiting } = batch;
    try {
      const inputs = waiting.length === 1 ? (waiting[0]?.inputs ?? []) : waiting.flatMap((w) => w.inputs);
      this.metrics.batchSize.observe({ model: loaded.model, version: loaded.version }, inputs.length);
      const probabilities = await predictProbabilities(loaded.bundle, inputs);
      let offset = 0;
      for (const entry of waiting) {
        entry.resolve(probabilities.slice(offset, offset + entry.inputs.length));
        offset += entry.inputs.length;
      }
    } catch (err) {
      // One log line for the batch; each of its requests answers 500 without repeating the internals.
      this.log.error(
        {
          err,
          model: loaded.model,
          version: loaded.version,
          requests: waiting.length,
          instances: batch.size,
        },
        'batched prediction failed',
      );
      const failure = new HttpError(
        500,
        'prediction_failed',
        `model ${loaded.model} version ${loaded.version} failed on a batch of ${batch.size} instances`,
      );
      for (const entry of waiting) entry.reject(failure);
    } finally {
      batch.release();
    }
  }
}
