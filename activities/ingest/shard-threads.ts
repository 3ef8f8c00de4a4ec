/**
 * Shard ingest on worker threads: parsing, checking and writing a shard is CPU work, so shards in
 * flight at once use as many cores as the machine has (one Node thread uses one), and the
 * activity's own thread stays free for heartbeats. The pool starts on first use and lets idle
 * threads go, so a worker that ingests nothing holds none.
 */
import os from 'node:os';
import path from 'node:path';
import { MessageChannel, SHARE_ENV } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { DatasetError } from './plan';
import type { IngestShardOptions, ShardOutcome } from './shard';
import type { ShardTask, ShardTaskResult } from './shard-thread';

/** Idle threads are let go after this long; a fan-out's next shard usually comes sooner. */
const IDLE_THREAD_MS = 10_000;

const YOUNG_GENERATION_MB = 64;

let pool: Piscina<ShardTask, ShardTaskResult> | undefined;

function shardPool(): Piscina<ShardTask, ShardTaskResult> {
  pool ??= new Piscina({
    // The same extension as this file: shard-thread.ts under tsx, shard-thread.js when built.
    filename: path.join(__dirname, `shard-thread${path.extname(__filename)}`),
    maxThreads: os.availableParallelism(),
    minThreads: 0,
    idleTimeout: IDLE_THREAD_MS,
    // The activity's environment, live: storage reads STORAGE_EMULATOR_HOST and credentials from it.
    env: SHARE_ENV,
    // A shard allocates a few objects per cell, most short-lived: a roomier young generation
    // scavenges less often (measured: a third less time in GC).
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
  return pool;
}

/** ingestShardData on a worker thread: the same outcome, the same DatasetError for bad data. */
export async function ingestShardOnThread(options: IngestShardOptions): Promise<ShardOutcome> {
  const { signal, onProgress, ...task } = options;
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (update: Parameters<NonNullable<IngestShardOptions['onProgress']>>[0]) =>
    onProgress?.(update),
  );
  try {
    const result = await shardPool().run(
      { ...task, progress: port2 },
      { transferList: [port2], ...(signal ? { signal } : {}) },
    );
    if ('outcome' in result) return result.outcome;
    if ('badData' in result) throw new DatasetError(result.badData);
    const error = new Error(result.error.message);
    error.name = result.error.name;
    if (result.error.stack) error.stack = result.error.stack;
    throw error;
  } finally {
    port1.close();
  }
}
