/**
 * The shadow step's mirror: copies of requests that stable answered are scored by the shadow
 * version after the answer has gone, one at a time from a bounded queue (when it is full the copy
 * is dropped and counted: the user never waits for the shadow), and compared with stable's scores
 * on the same instances. Each pair is kept a while so feedback for stable's prediction id joins
 * both sides: the paired differences need far fewer requests than two separate samples would.
 */
import type { DatasetExample } from '../lib/dataset/example';
import type { PredictionLogRecord } from '../lib/traffic/prediction-log-records';
import type { ServingContext } from './context';
import type { ServedModel } from './deployment-watcher';
import { decodeInstanceImage } from './image-input';
import type { InstanceReader, ReadInstance } from './instance-reader';
import type { LoadedVersion } from './loaded-version';
import { logLoss } from './metrics';
import type { PredictInstance } from './routes/predict-schema';

/** One request stable answered, as the mirror takes it. */
export interface MirroredRequest {
  served: ServedModel;
  stableVersion: string;
  instances: readonly PredictInstance[];
  /** Stable's reading of the instances and its decoded pixels, reused when the shadow reads them alike. */
  stableRead: readonly ReadInstance[];
  stablePixels: readonly (Uint8Array | undefined)[];
  stableImageSize: number;
  stableProbabilities: Float32Array;
  stableIds: readonly string[];
  stableModelSeconds: number;
}

/** The shadow's side of one mirrored instance, kept for its feedback. */
interface ShadowPair {
  model: string;
  shadowVersion: string;
  stableVersion: string;
  stableProbability: number;
  shadowProbability: number;
}

/** Instances waiting in mirrored copies at most; beyond it copies are dropped, never queued without bound. */
export const SHADOW_QUEUE_CAPACITY = 256;
/** How long a copy waits for user requests in flight to finish before it is scored anyway. */
const YIELD_TO_USERS_MS = 20;

/** A queued copy with its hold on the shadow version, so a reload cannot free it under the queue. */
interface QueuedCopy {
  request: MirroredRequest;
  loaded: LoadedVersion;
  shadowVersion: string;
  release: () => void;
}
/** Pairs remembered for feedback (FIFO): at 1 000 instances/s about a minute of them. */
export const SHADOW_PAIR_CAPACITY = 50_000;

export class ShadowMirror {
  private readonly queue: QueuedCopy[] = [];
  private queuedInstances = 0;
  private running = false;
  private readonly pairs = new Map<string, ShadowPair>();
  private idle: Promise<void> = Promise.resolve();
  private settleIdle: (() => void) | undefined;
  /** User predict requests in flight on this process; copies wait for them (briefly). */
  private userRequests = 0;

  constructor(
    private readonly context: Pick<
      ServingContext,
      'predictor' | 'metrics' | 'feedback' | 'logs' | 'imageUriRoots'
    >,
    private readonly options: { capacity?: number; pairCapacity?: number; random?: () => number } = {},
  ) {}

  /** Marks a user request in flight; call the returned function when it is answered. */
  userRequestStarted(): () => void {
    this.userRequests += 1;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.userRequests -= 1;
    };
  }

  /** Mirrors the request when the model has a shadow and the request falls in its share. */
  offer(request: MirroredRequest): void {
    const shadow = request.served.table.shadow;
    if (!shadow || shadow.version === request.stableVersion) return;
    if ((this.options.random ?? Math.random)() * 100 >= shadow.percent) return;
    const loaded = request.served.versions.get(shadow.version);
    if (!loaded) return;
    const capacity = this.options.capacity ?? SHADOW_QUEUE_CAPACITY;
    if (this.queuedInstances + request.instances.length > capacity) {
      this.context.metrics.shadow.dropped.inc({ model: request.served.model, version: shadow.version });
      return;
    }
    this.queue.push({ request, loaded, shadowVersion: shadow.version, release: loaded.acquire() });
    this.queuedInstances += request.instances.length;
    if (!this.running) this.start();
  }

  /** The shadow's score for the instance stable answered with this prediction id, while remembered. */
  pairOf(predictionId: string): ShadowPair | undefined {
    return this.pairs.get(predictionId);
  }

  /** Records a label joined to both sides: the paired log-loss difference. */
  recordFeedback(pair: ShadowPair, clicked: 0 | 1): void {
    const labels = { model: pair.model, version: pair.shadowVersion, stable_version: pair.stableVersion };
    const difference = logLoss(pair.shadowProbability, clicked) - logLoss(pair.stableProbability, clicked);
    const { shadow } = this.context.metrics;
    shadow.feedback.inc(labels);
    shadow.logLossDiffSum.inc(labels, difference);
    shadow.logLossDiffSquaredSum.inc(labels, difference * difference);
  }

  /** Resolves once every queued copy has been scored (tests and stop() wait on it). */
  drained(): Promise<void> {
    return this.running ? this.idle : Promise.resolve();
  }

  private start(): void {
    this.running = true;
    this.idle = new Promise((resolve) => (this.settleIdle = resolve));
    // Not before the answer that queued it has been written: the user's request comes first.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        this.queuedInstances -= next.request.instances.length;
        await this.yieldToUsers();
        try {
          await this.score(next);
        } catch {
          // Nothing a copy does may reach a user or stop the mirror; its metrics say what was scored.
        } finally {
          next.release();
        }
      }
    } finally {
      this.running = false;
      this.settleIdle?.();
    }
  }

  /** Waits while user requests are in flight, up to YIELD_TO_USERS_MS, then one turn of the event loop. */
  private async yieldToUsers(): Promise<void> {
    const deadline = Date.now() + YIELD_TO_USERS_MS;
    while (this.userRequests > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }

  private async score({ request, loaded, shadowVersion }: QueuedCopy): Promise<void> {
    const { served, stableVersion } = request;
    const labels = { model: served.model, version: shadowVersion, stable_version: stableVersion };
    const { shadow } = this.context.metrics;
    let probabilities: Float32Array;
    let seconds: number;
    let read: ReadInstance[];
    try {
      const inputs = await this.inputsFor(request, loaded.readInstance, loaded.bundle.preprocessing);
      read = inputs.read;
      const started = process.hrtime.bigint();
      probabilities = await this.context.predictor.predict(loaded, inputs.examples);
      seconds = Number(process.hrtime.bigint() - started) / 1e9;
    } catch {
      // A request stable could serve and the shadow cannot (a column its spec needs, a model failure) is its error.
      shadow.requests.inc({ ...labels, outcome: 'error' });
      return;
    }
    shadow.requests.inc({ ...labels, outcome: 'success' });
    shadow.latency.observe({ ...labels, side: 'shadow' }, seconds);
    shadow.latency.observe({ ...labels, side: 'stable' }, request.stableModelSeconds);
    const issuedAt = Date.now();
    const records: PredictionLogRecord[] = [];
    for (let i = 0; i < probabilities.length; i++) {
      const shadowProbability = probabilities[i]!;
      const stableProbability = request.stableProbabilities[i]!;
      const difference = shadowProbability - stableProbability;
      shadow.pairs.inc(labels);
      shadow.scoreDiffSum.inc(labels, difference);
      shadow.scoreDiffSquaredSum.inc(labels, difference * difference);
      const stableId = request.stableIds[i]!;
      this.remember(stableId, {
        model: served.model,
        shadowVersion,
        stableVersion,
        stableProbability,
        shadowProbability,
      });
      const shadowId = this.context.feedback.ids.issue(
        { model: served.model, version: shadowVersion, probability: shadowProbability },
        issuedAt,
      );
      records.push({
        ts: new Date(issuedAt).toISOString(),
        prediction_id: shadowId,
        shadow_of: stableId,
        model: served.model,
        version: shadowVersion,
        role: 'shadow',
        features: read[i]!.features,
        click_probability: shadowProbability,
        latency_ms: Math.round(seconds * 1e6) / 1e3,
      });
    }
    this.context.logs?.recordPredictions(records);
  }

  /** The instances as the shadow's own spec reads them; stable's decoded pixels when the image size agrees. */
  private async inputsFor(
    request: MirroredRequest,
    readInstance: InstanceReader,
    preprocessing: { imageSize: number; spec: { features: ReadonlyArray<{ kind: string }> } },
  ): Promise<{ read: ReadInstance[]; examples: DatasetExample[] }> {
    const read = request.instances.map((instance, index) => readInstance(instance, index));
    const hasImage = preprocessing.spec.features.some((feature) => feature.kind === 'image');
    const examples = await Promise.all(
      read.map(async (instance, index) => {
        if (!hasImage) return instance.features;
        const reusable =
          preprocessing.imageSize === request.stableImageSize ? request.stablePixels[index] : undefined;
        const pixels =
          reusable ??
          (await decodeInstanceImage(
            instance.image ?? {},
            index,
            preprocessing.imageSize,
            this.context.imageUriRoots,
          ));
        return { ...instance.features, pixels };
      }),
    );
    return { read, examples };
  }

  private remember(stableId: string, pair: ShadowPair): void {
    this.pairs.set(stableId, pair);
    if (this.pairs.size > (this.options.pairCapacity ?? SHADOW_PAIR_CAPACITY)) {
      this.pairs.delete(this.pairs.keys().next().value!);
    }
  }
}
