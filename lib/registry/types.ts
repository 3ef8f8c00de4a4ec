/** The registry's records: a model version with its lineage, decisions and history, and a model's aliases. */
import type { CodeVersion } from './code-version';

/** Where a version is in its life, from candidate to production and beyond. */
export type ModelVersionStatus =
  'candidate' | 'approved' | 'rejected' | 'canary' | 'production' | 'rolled-back' | 'archived';

/** One entry of a version's status history. */
export interface StatusChange {
  status: ModelVersionStatus;
  at: string;
  by?: string;
  note?: string;
}

/** Everything needed to tell how a version was made, and to make it again. */
export interface Lineage {
  data: {
    uri: string;
    trainUri: string;
    evalUri: string;
    fingerprint: string;
    schemaVersion: number;
    trainRows: number;
    evalRows: number;
    /** The sharded ingest's plan (every shard's source rows and outputs), and how many shards. */
    planUri?: string;
    shardCount?: number;
    /** The validate stage's statistics.json: the baseline later datasets' drift is measured against. */
    statisticsUri?: string;
    /** What validation flagged without failing (also shown to the reviewer). */
    warnings?: string[];
    /** How the model's schema widens to this data when the version reaches production (a data-shift retraining). */
    schemaChanges?: string[];
    /** The feature spec the data was read by (also inside the model's preprocessing.json), and where it came from. */
    featureSpecUri?: string;
    featureSpecSource?: string;
  };
  code: CodeVersion;
  /** The whole validated pipeline configuration. */
  config: unknown;
  training: { backend: string; device: string; epochs: number; finalLoss?: number };
  run: { workflowId: string; runId: string; workflowType: string };
  /** What started the run when it was not a person or a schedule: the production monitor, and why. */
  trigger?: { by: string; workflowId: string; reasons: string[] };
}

/** A person's (or a timeout's) decision at one of the approval gates. */
export interface Approval {
  decision: 'approved' | 'rejected' | 'timed-out';
  by: string;
  at: string;
  note?: string;
  gate: 'candidate' | 'full-traffic';
}

/** The registry's document for one model version. */
export interface ModelVersionRecord {
  model: string;
  version: string;
  status: ModelVersionStatus;
  modelUri: string;
  createdAt: string;
  lineage: Lineage;
  /** The evaluation summary: candidate metrics, slices, production comparison, report uri/url. */
  metrics: Record<string, unknown>;
  /** Every recorded decision, oldest first. */
  approvals: Approval[];
  history: StatusChange[];
}

/**
 * What a pipeline registers. The registry adds the number, status and dates, and the code version
 * when the lineage has none (the worker that trained knows it best, so it may pass its own).
 */
export type NewModelVersion = Pick<ModelVersionRecord, 'model' | 'modelUri' | 'metrics'> & {
  lineage: Omit<Lineage, 'code'> & { code?: CodeVersion };
};

/** One move of a model's `production` alias. */
export interface AliasChange {
  production: string;
  previous?: string;
  at: string;
  by?: string;
  reason?: string;
}

/** A model's alias file: which versions serve now and served before. */
export interface ModelAliases {
  production?: string;
  previous?: string;
  /** Every change of `production`, oldest first. */
  history: AliasChange[];
}

/** Who made a status change, and why. */
export interface ChangeOptions {
  by?: string;
  note?: string;
}

/** Who moved the `production` alias, and why. */
export interface SetProductionOptions {
  by?: string;
  reason?: string;
}
