/**
 * Prediction and feedback logs in the store, for monitoring and batch analysis: JSON Lines under
 * `<store>/logs/<model>/{predictions,feedback}/<yyyy-mm-dd>/<hh>-<replica>-<seq>.jsonl`, written off the
 * request path by one PartFileWriter per model and stream, flushed every second and on stop.
 */
import { joinUri } from '../lib/storage';
import type {
  FeedbackLogRecord,
  LogStream,
  PredictionLogRecord,
} from '../lib/traffic/prediction-log-records';
import type { PredictionMetrics } from './metrics';
import { PartFileWriter } from './part-file-writer';

/** Where warnings go: a fastify/pino logger fits. */
export interface LogSink {
  warn(obj: object, msg: string): void;
}

/** Options of ServingLogs. */
export interface ServingLogsOptions {
  storeUri: string;
  replicaId: string;
  metrics: PredictionMetrics;
  log: LogSink;
  flushIntervalMs?: number;
  maxPartBytes?: number;
  maxPendingBytes?: number;
}

/** Parts roll at this size even within the hour, so no single object grows unwieldy for readers. */
export const DEFAULT_MAX_PART_BYTES = 8 * 1024 * 1024;
const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

/** The server's log streams; records are queued synchronously and serialised after the response is sent. */
export class ServingLogs {
  private readonly writers = new Map<string, PartFileWriter>();
  private readonly timer: NodeJS.Timeout;
  private lastError: string | undefined;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: ServingLogsOptions) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    // Logging must never be the reason a process stays up.
    this.timer.unref();
  }

  /** Queues prediction records; JSON encoding waits for setImmediate, after the answer has gone out. */
  recordPredictions(records: PredictionLogRecord[]): void {
    this.defer('predictions', records);
  }

  /** Queues feedback records the same way. */
  recordFeedback(records: FeedbackLogRecord[]): void {
    this.defer('feedback', records);
  }

  /** Writes every buffered record to the store. */
  async flush(): Promise<void> {
    await Promise.all([...this.writers.values()].map((writer) => writer.flush()));
  }

  /** Stops the timer and writes what is left; call after in-flight requests have finished. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      clearInterval(this.timer);
      // Records deferred by requests that just finished land in the buffers first.
      await new Promise((resolve) => setImmediate(resolve));
      await this.flush();
    })();
    return this.stopped;
  }

  private defer(stream: LogStream, records: Array<PredictionLogRecord | FeedbackLogRecord>): void {
    if (records.length === 0) return;
    setImmediate(() => {
      for (const record of records) this.writerFor(record.model, stream).append(record, new Date(record.ts));
    });
  }

  private writerFor(model: string, stream: LogStream): PartFileWriter {
    const key = `${model}/${stream}`;
    let writer = this.writers.get(key);
    if (!writer) {
      writer = new PartFileWriter({
        rootUri: joinUri(this.options.storeUri, 'logs', model, stream),
        replicaId: this.options.replicaId,
        maxPartBytes: this.options.maxPartBytes ?? DEFAULT_MAX_PART_BYTES,
        maxPendingBytes: this.options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
        onDrop: (count) => this.options.metrics.logRecordsDropped.inc({ stream }, count),
        onError: (err, uri) => this.reportError(err, uri),
      });
      this.writers.set(key, writer);
    }
    return writer;
  }

  private reportError(err: unknown, uri: string): void {
    // A store outage fails every flush; one warning per distinct failure is enough.
    const message = (err as Error).message;
    if (message === this.lastError) return;
    this.lastError = message;
    this.options.log.warn({ uri, reason: message }, 'cannot write a log part; will retry');
  }
}
