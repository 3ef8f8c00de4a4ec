/**
 * One-line summaries of what each activity call does, shown beside its event in the Web UI.
 * `withSummaries` wraps an activity proxy so every call carries one. Workflow-safe.
 */
import type { ControlActivities, GpuActivities } from '../activities';

type Activities = ControlActivities & GpuActivities;
type Summaries = {
  [Name in keyof Activities]: (input: Parameters<Activities[Name]>[0]) => string;
};

export const ACTIVITY_SUMMARIES: Summaries = {
  planIngest: ({ dataUri, shardRows }) =>
    `List the CSVs under ${dataUri}, check their headers and cut them into shards of ${shardRows} rows`,
  ingestShard: ({ shardIndex }) =>
    `Ingest shard ${shardIndex}: decode its images, quarantine bad rows, write its train/eval Arrow files (or reuse them)`,
  finishIngest: () => 'Merge the ingested shards, count quarantined rows by reason, settle duplicate ad ids',
  validateDataset: ({ ingest }) =>
    `Check ${ingest.trainRows + ingest.evalRows} rows: feature statistics, the model's schema, drift against production's training data, bad rows`,
  adoptSchemaChanges: ({ modelName, reason }) =>
    `Widen ${modelName}'s data schema to the data this version trained on (${reason})`,
  getProductionVersion: ({ model }) => `Look up the version of ${model} serving production`,
  trainModel: ({ train }) =>
    `Train ${train.epochs} epochs (batch ${train.batchSize}, seed ${train.seed}) in a separate process, checkpointing every ${train.checkpointEveryEpochs ?? 1} epoch(s)`,
  evaluateModel: ({ production }) =>
    `Score the candidate${production ? ` and production v${production.version}` : ''} on the eval split, overall and per slice, and decide the blessing`,
  registerModelVersion: ({ model }) => `Register a new version of ${model} with its lineage and metrics`,
  setModelVersionStatus: ({ model, version, status }) =>
    `Mark ${model} v${version} ${status} in the registry`,
  recordApproval: ({ model, version, approval }) =>
    `Record in the registry: ${model} v${version} ${approval.decision} by ${approval.by} (${approval.gate} gate)`,
  setProductionAlias: ({ model, version }) => `Point ${model}'s production alias at v${version}`,
  resolveRollbackTarget: ({ model, to }) =>
    `Check that ${model} ${to ? `v${to}` : 'its previous production version'} can serve production again`,
  applyDeployment: ({ model, stable, canary }) =>
    canary
      ? `Route ${canary.weight}% of ${model} traffic to v${canary.version} and the rest to v${stable?.version ?? '—'} on every replica`
      : `Route all ${model} traffic to v${stable?.version ?? '—'} on every replica`,
  snapshotTraffic: ({ model }) => `Read ${model}'s traffic counters for canary analysis`,
  abandonRollout: ({ model, version }) =>
    `Clean up after the ${model} v${version} rollout ended unfinished: stable traffic if it is still the canary`,
  resolveBatchModel: ({ model, version }) =>
    `Resolve ${model} ${version === 'production' ? 'production' : `v${version}`} in the registry for batch scoring`,
  predictShard: ({ shardIndex, version }) =>
    `Score shard ${shardIndex} with v${version} and write its predictions (or reuse them)`,
  finishBatchPredict: ({ shards, outputUri }) =>
    `Write the manifest of ${shards.length} prediction shards to ${outputUri}`,
  measureModelHealth: ({ modelName }) =>
    `Read ${modelName}'s new prediction and feedback logs: live log loss, AUC and input drift of production`,
  recordMonitorAlert: ({ modelName, triggers }) =>
    `Record an alert for ${modelName}: ${triggers.map((t) => t.kind).join(', ')}`,
};

type WithExecuteWithOptions = ((...args: unknown[]) => Promise<unknown>) & {
  executeWithOptions(options: { summary: string }, args: unknown[]): Promise<unknown>;
};

/** The same activity proxy, each call carrying its summary from ACTIVITY_SUMMARIES. */
export function withSummaries<T extends object>(activities: T): T {
  const summaries = ACTIVITY_SUMMARIES as unknown as Record<string, ((input: unknown) => string) | undefined>;
  return new Proxy(activities, {
    get(target, name, receiver) {
      const activity = Reflect.get(target, name, receiver) as WithExecuteWithOptions;
      const summarize = typeof name === 'string' ? summaries[name] : undefined;
      if (!summarize) return activity;
      return (...args: unknown[]) => activity.executeWithOptions({ summary: summarize(args[0]) }, args);
    },
  });
}
