/**
 * The body of a shard-ingest worker thread (see shard-threads.ts): ingests one shard and reports
 * progress through the given port. Failures come back as values, since a thrown error loses its
 * class on the way back, and a bad dataset must stay a DatasetError on the other side.
 */
import type { MessagePort } from 'node:worker_threads';
import { DatasetError } from './plan';
import { ingestShardData, type IngestShardOptions, type ShardOutcome } from './shard';

export interface ShardTask extends Omit<IngestShardOptions, 'signal' | 'onProgress'> {
  progress: MessagePort;
}

export type ShardTaskResult =
  | { outcome: ShardOutcome }
  | { badData: string }
  | { error: { name: string; message: string; stack?: string } };

export default async function ingestShardTask({ progress, ...options }: ShardTask): Promise<ShardTaskResult> {
  try {
    const outcome = await ingestShardData({
      ...options,
      onProgress: (update) => progress.postMessage(update),
    });
    return { outcome };
  } catch (err) {
    if (err instanceof DatasetError) return { badData: err.message };
    const error = err instanceof Error ? err : new Error(String(err));
    return {
      error: { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) },
    };
  } finally {
    progress.close();
  }
}
