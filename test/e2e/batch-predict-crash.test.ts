/**
 * Resumable batch prediction, for real: the GPU worker scoring a batchPredict job runs as its own
 * process (as in production) and is SIGKILLed once some shards are finished. A new worker process
 * takes over; the shards finished before the crash are neither scheduled again nor rewritten, and
 * the output is complete and byte-identical to an uninterrupted run of the same job. Then a job
 * lost mid-run and started again under its id keeps the shards it had finished.
 */
import { adsSpecFile } from '../helpers/ads-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import type { PredictShardInput, PredictShardResult } from '../../contracts/batch-predict';
import { startBatchPredict } from '../../scripts/clients/batch-client';
import { startPipeline } from '../../scripts/clients/pipeline-client';
import { startEntryPoint, tailLog, type ManagedProcess } from '../../lib/stack/child-process';
import type { WorkerEnv } from '../../workers/env';
import type { BatchPredictResult } from '../../workflows/batch-predict';
import type { PipelineResult } from '../../contracts/temporal';
import {
  startPipelineEnv,
  TEST_CONTROL_QUEUE,
  TEST_MODEL,
  TINY_PIPELINE_CONFIG,
} from '../helpers/pipeline-env';
import { makeTinyDataset } from '../helpers/tiny-dataset';

/** The queue of the GPU worker processes that score (the environment's own GPU worker trains). */
const BATCH_GPU_QUEUE = 'test-ml-gpu-batch';
const ROWS = 300;
const SHARD_ROWS = 10;
const SHARDS = ROWS / SHARD_ROWS;
/** A killed worker's shard is retried this long after its last heartbeat. */
const HEARTBEAT_TIMEOUT_SECONDS = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A file's modification time (ns) and content, to prove it was not rewritten. */
async function fingerprint(file: string): Promise<{ mtimeNs: bigint; text: string }> {
  const [stat, text] = await Promise.all([fs.stat(file, { bigint: true }), fs.readFile(file, 'utf8')]);
  return { mtimeNs: stat.mtimeNs, text };
}

async function doneMarkers(folder: string): Promise<string[]> {
  const names = await fs.readdir(folder).catch(() => [] as string[]);
  return names.filter((name) => name.endsWith('.done.json')).sort();
}

/** Fingerprints of every finished shard's predictions and done-marker in an output folder. */
async function snapshotFinished(folder: string): Promise<Map<string, { mtimeNs: bigint; text: string }>> {
  const files = new Map<string, { mtimeNs: bigint; text: string }>();
  for (const marker of await doneMarkers(folder)) {
    for (const file of [marker, marker.replace(/\.done\.json$/, '')]) {
      files.set(file, await fingerprint(path.join(folder, file)));
    }
  }
  return files;
}

async function predictionsText(result: BatchPredictResult): Promise<string> {
  const parts = await Promise.all(result.shards.map((shard) => fs.readFile(shard.predictionsUri, 'utf8')));
  return parts.join('');
}

void describe('a GPU worker killed in the middle of a batch prediction', { timeout: 180_000 }, () => {
  void it('is replaced by a new worker that scores only the unfinished shards; the output equals an uninterrupted run', async (t) => {
    const started = Date.now();
    await using dataset = await makeTinyDataset({ rows: ROWS, seed: 5 });
    await using env = await startPipelineEnv();
    const logDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-batch-crash-logs-'));
    const trained = (await (
      await startPipeline(env.client, {
        modelName: TEST_MODEL,
        dataUri: dataset.dir,
        featureSpecUri: await adsSpecFile(),
        config: TINY_PIPELINE_CONFIG,
        approvalRequired: false,
        taskQueue: TEST_CONTROL_QUEUE,
        workflowId: 'batch-crash-train',
      })
    ).result()) as PipelineResult;
    assert.equal(trained.outcome, 'production');
    t.diagnostic(`setup and training: ${Date.now() - started} ms`);

    // The GPU worker's real entry point and environment, as `mlops dev` or a Kubernetes pod starts it.
    const gpuEnv = {
      TEMPORAL_ADDRESS: env.devServer.address,
      TEMPORAL_NAMESPACE: env.devServer.namespace,
      MLOPS_STORE: env.storeUri,
      MLOPS_GPU_QUEUE: BATCH_GPU_QUEUE,
      MLOPS_GPU_CONCURRENCY: '1',
    } satisfies Partial<Record<keyof WorkerEnv, string>>;
    const workers: ManagedProcess[] = [];
    const startGpuWorker = async (name: string) => {
      const worker = await startEntryPoint({
        name,
        entry: 'workers/gpu-worker.ts',
        env: { ...gpuEnv, MLOPS_TF_BACKEND: 'cpu' },
        logDir,
      });
      workers.push(worker);
      return worker;
    };
    const run = (workflowId: string) =>
      startBatchPredict(env.client, {
        modelName: TEST_MODEL,
        version: trained.version,
        dataUri: dataset.dir,
        shardRows: SHARD_ROWS,
        concurrency: 2,
        heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_SECONDS,
        gpuTaskQueue: BATCH_GPU_QUEUE,
        taskQueue: TEST_CONTROL_QUEUE,
        workflowId,
      });

    try {
      const first = await startGpuWorker('gpu-worker-1');
      const reference = (await (await run('batch-uninterrupted')).result()) as BatchPredictResult;
      assert.equal(reference.shards.length, SHARDS);
      assert.equal(reference.rows, ROWS);

      const handle = await run('batch-crashed');
      const outputDir = path.join(env.storeUri, 'predictions', TEST_MODEL, 'batch-crashed');
      // Kill once a few shards are finished, well before the last.
      while ((await doneMarkers(outputDir)).length < 3) {
        if (first.child.exitCode !== null) assert.fail(`GPU worker exited:\n${await tailLog(first.logFile)}`);
        await sleep(10);
      }
      first.child.kill('SIGKILL');
      await first.stop();
      const killedAt = Date.now();
      const finished = await doneMarkers(outputDir);
      assert.ok(finished.length < SHARDS, `the kill came too late: ${finished.length}/${SHARDS} shards done`);
      const before = await snapshotFinished(outputDir);

      const second = await startGpuWorker('gpu-worker-2');
      const result = (await handle.result()) as BatchPredictResult;
      t.diagnostic(
        `killed after ${finished.length}/${SHARDS} shards; finished ${Date.now() - killedAt} ms after the kill ` +
          `(heartbeat timeout ${HEARTBEAT_TIMEOUT_SECONDS} s); ${result.reusedShards} shard(s) found done by a retry`,
      );

      // Complete, and the same bytes as the run nobody interrupted.
      assert.equal(result.rows, ROWS);
      assert.equal(result.shards.length, SHARDS);
      assert.equal(await predictionsText(result), await predictionsText(reference));

      // The shards finished before the crash were not scored again: their files are untouched.
      for (const [file, was] of before) {
        assert.deepEqual(await fingerprint(path.join(outputDir, file)), was, `${file} was rewritten`);
      }

      // History: every shard scheduled once; the ones done before the crash ran on the killed worker
      // (or, killed after its marker but before it reported, were found done by the retry); the rest
      // ran on the new worker.
      const history = await handle.fetchHistory();
      const scheduled = new Map<number, number>();
      const shardOfEvent = new Map<string, number>();
      for (const event of history.events ?? []) {
        const attributes = event.activityTaskScheduledEventAttributes;
        if (attributes?.activityType?.name !== 'predictShard') continue;
        const input = defaultPayloadConverter.fromPayload<PredictShardInput>(attributes.input!.payloads![0]!);
        scheduled.set(input.shardIndex, (scheduled.get(input.shardIndex) ?? 0) + 1);
        shardOfEvent.set(String(event.eventId), input.shardIndex);
      }
      assert.equal(scheduled.size, SHARDS);
      assert.ok(
        [...scheduled.values()].every((count) => count === 1),
        'every shard scheduled exactly once',
      );
      // Who ran each shard (the last attempt's worker), at which attempt, and whether it found it done.
      const runs = new Map<number, { identity: string; attempt: number; reused?: boolean }>();
      for (const event of history.events ?? []) {
        const started = event.activityTaskStartedEventAttributes;
        const completed = event.activityTaskCompletedEventAttributes;
        const shardIndex = shardOfEvent.get(String(started?.scheduledEventId ?? completed?.scheduledEventId));
        if (shardIndex === undefined) continue;
        if (started)
          runs.set(shardIndex, { identity: started.identity ?? '', attempt: started.attempt ?? 0 });
        if (completed) {
          const output = defaultPayloadConverter.fromPayload<PredictShardResult>(
            completed.result!.payloads![0]!,
          );
          runs.get(shardIndex)!.reused = output.reused;
        }
      }
      const ranOn = (i: number, worker: ManagedProcess) =>
        runs.get(i)?.identity.startsWith(`${worker.child.pid}@`);
      const finishedIndexes = new Set(finished.map((name) => Number(/predictions-(\d+)/.exec(name)![1])));
      for (let i = 0; i < SHARDS; i++) {
        const shard = runs.get(i)!;
        if (finishedIndexes.has(i)) {
          assert.ok(
            ranOn(i, first) || (ranOn(i, second) && shard.reused),
            `shard ${i} was done before the kill`,
          );
        } else {
          assert.ok(ranOn(i, second), `shard ${i} ran on the new worker (${shard.identity})`);
          assert.equal(shard.reused, false, `shard ${i} was scored, not found`);
        }
      }
      const retried = [...runs]
        .filter(([, run]) => run.attempt > 1)
        .map(([i, run]) => `${i} (attempt ${run.attempt})`);
      t.diagnostic(`shards retried after the kill: ${retried.join(', ') || 'none'}`);

      // The whole job lost (terminated mid-run) and started again under the same id, as
      // `mlops batch-predict --id` does: the shards it had finished are found and kept, not scored again.
      const terminated = await run('batch-restarted');
      const restartedDir = path.join(env.storeUri, 'predictions', TEST_MODEL, 'batch-restarted');
      while ((await doneMarkers(restartedDir)).length < 3) await sleep(10);
      await terminated.terminate('a lost job');
      const kept = await snapshotFinished(restartedDir);
      const restarted = (await (await run('batch-restarted')).result()) as BatchPredictResult;
      assert.ok(
        restarted.reusedShards >= kept.size / 2 && restarted.reusedShards < SHARDS,
        `reused ${restarted.reusedShards} of the ${kept.size / 2} shards finished before the job was lost`,
      );
      for (const [file, was] of kept) {
        assert.deepEqual(await fingerprint(path.join(restartedDir, file)), was, `${file} was rewritten`);
      }
      assert.equal(await predictionsText(restarted), await predictionsText(reference));
      t.diagnostic(
        `restarted job reused ${restarted.reusedShards}/${SHARDS} shards; total ${Date.now() - started} ms`,
      );
    } catch (err) {
      for (const worker of workers) console.error(`--- ${worker.name}\n${await tailLog(worker.logFile, 40)}`);
      throw err;
    } finally {
      await Promise.allSettled(workers.map((worker) => worker.stop()));
      await fs.rm(logDir, { recursive: true, force: true });
    }
  });
});
