/**
 * The model registry: one JSON document per model version plus an alias file, in the store.
 * Version numbers are claimed with exclusive creates, so concurrent pipelines never share one.
 */
import { joinUri, readJsonIfExists, storageFor, writeJson } from './storage';

export type ModelVersionStatus =
  'candidate' | 'approved' | 'rejected' | 'canary' | 'production' | 'rolled-back' | 'archived';

export interface StatusChange {
  status: ModelVersionStatus;
  at: string;
  note?: string;
}

export interface ModelVersionRecord {
  model: string;
  version: string;
  status: ModelVersionStatus;
  modelUri: string;
  createdAt: string;
  workflowId: string;
  runId: string;
  dataUri: string;
  datasetFingerprint: string;
  parameters: unknown;
  metrics: Record<string, unknown>;
  training: { backend: string; device: string };
  history: StatusChange[];
}

export type NewModelVersion = Omit<ModelVersionRecord, 'version' | 'status' | 'createdAt' | 'history'>;

export interface ModelAliases {
  production?: string;
  previous?: string;
}

export class ModelRegistry {
  constructor(private readonly storeUri: string) {}

  private modelRoot(model: string): string {
    return joinUri(this.storeUri, 'registry', model);
  }

  private versionUri(model: string, version: string): string {
    return joinUri(this.modelRoot(model), 'versions', `${version.padStart(6, '0')}.json`);
  }

  /** Every version of a model, oldest first. */
  async listVersions(model: string): Promise<ModelVersionRecord[]> {
    const uris = await storageFor(this.storeUri).list(joinUri(this.modelRoot(model), 'versions'));
    const records = await Promise.all(uris.map((uri) => readJsonIfExists<ModelVersionRecord>(uri)));
    return records.filter((record): record is ModelVersionRecord => record !== undefined);
  }

  async getVersion(model: string, version: string): Promise<ModelVersionRecord | undefined> {
    return readJsonIfExists<ModelVersionRecord>(this.versionUri(model, version));
  }

  /** Registers a new version; a second call from the same workflow run returns the first's record. */
  async register(entry: NewModelVersion): Promise<ModelVersionRecord> {
    const existing = await this.listVersions(entry.model);
    const sameRun = existing.find((record) => record.runId === entry.runId);
    if (sameRun) return sameRun;
    let next = existing.reduce((max, record) => Math.max(max, Number(record.version)), 0) + 1;
    const storage = storageFor(this.storeUri);
    for (;;) {
      const createdAt = new Date().toISOString();
      const record: ModelVersionRecord = {
        ...entry,
        version: String(next),
        status: 'candidate',
        createdAt,
        history: [{ status: 'candidate', at: createdAt }],
      };
      // An exclusive create claims the number; a concurrent pipeline that lost the race tries the next.
      if (
        await storage.writeIfAbsent(
          this.versionUri(entry.model, record.version),
          JSON.stringify(record, null, 2),
        )
      ) {
        return record;
      }
      next += 1;
    }
  }

  /** Records a status change; setting the current status again is a no-op, so retries are safe. */
  async setStatus(
    model: string,
    version: string,
    status: ModelVersionStatus,
    note?: string,
  ): Promise<ModelVersionRecord> {
    const record = await this.getVersion(model, version);
    if (!record) throw new Error(`model ${model} has no version ${version}`);
    if (record.status === status) return record;
    const updated: ModelVersionRecord = {
      ...record,
      status,
      history: [...record.history, { status, at: new Date().toISOString(), ...(note ? { note } : {}) }],
    };
    await writeJson(this.versionUri(model, version), updated);
    return updated;
  }

  async getAliases(model: string): Promise<ModelAliases> {
    return (await readJsonIfExists<ModelAliases>(joinUri(this.modelRoot(model), 'aliases.json'))) ?? {};
  }

  /** Points `production` at a version and `previous` at the one it replaces. */
  async setProduction(model: string, version: string): Promise<ModelAliases> {
    // An alias to a version that does not exist would make serving and rollback fail later, far from the cause.
    if (!(await this.getVersion(model, version))) throw new Error(`model ${model} has no version ${version}`);
    const aliases = await this.getAliases(model);
    if (aliases.production === version) return aliases;
    const updated: ModelAliases = {
      production: version,
      ...(aliases.production ? { previous: aliases.production } : {}),
    };
    await writeJson(joinUri(this.modelRoot(model), 'aliases.json'), updated);
    return updated;
  }

  async getProduction(model: string): Promise<ModelVersionRecord | undefined> {
    const { production } = await this.getAliases(model);
    return production ? this.getVersion(model, production) : undefined;
  }
}
