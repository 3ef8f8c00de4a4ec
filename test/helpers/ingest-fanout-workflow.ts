/** Test-only workflow: the sharded ingest fan-out on its own, reporting its progress. */
import { proxyActivities } from '@temporalio/workflow';
import type { ControlActivities } from '../../activities';
import { ingestInShards, type IngestInShardsInput, type IngestProgress } from '../../workflows/ingest-fanout';

const activities = proxyActivities<ControlActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 2, initialInterval: '100 milliseconds' },
});

export interface IngestFanoutInput {
  data: IngestInShardsInput;
  concurrency: number;
}

/** Runs ingestInShards and returns its result with every progress report it made. */
export async function ingestFanout({ data, concurrency }: IngestFanoutInput) {
  const progress: IngestProgress[] = [];
  const result = await ingestInShards(activities, data, {
    concurrency,
    onProgress: (report) => progress.push(report),
  });
  return { result, progress };
}
