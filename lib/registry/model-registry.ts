/**
 * The model registry: one JSON document per model version plus an alias file, in the store.
 * Every change is a compare-and-swap (updateJson), so concurrent pipelines never lose a write;
 * version numbers are claimed with exclusive creates, so they never share one.
 */
import type { CodeVersion } from './code-version';
import { joinUri, readJsonIfExists, storageFor, updateJson } from '../storage';
import { RollbackRefusedError, UnknownModelVersionError } from './errors';
import { checkStatusChange, statusChange, wasInProduction } from './transitions';
import type {
  AliasChange,
  Approval,
  ChangeOptions,
  ModelAliases,
  ModelVersionRecord,
  ModelVersionStatus,
  NewModelVersion,
  SetProductionOptions,
} from './types';
import { normalizeVersion } from './version-number';

const sameApproval = (a: Approval, b: Approval) =>
  a.gate === b.gate && a.decision === b.decision && a.by === b.by && a.at === b.at;

/** The registry of one store: lists, registers and updates model versions and aliases. */
export class ModelRegistry {
  constructor(readonly storeUri: string) {}

  private registryRoot(): string {
    return joinUri(this.storeUri, 'registry');
  }

  private modelRoot(model: string): string {
    return joinUri(this.registryRoot(), model);
  }

  private aliasesUri(model: string): string {
    return joinUri(this.modelRoot(model), 'aliases.json');
  }

  private versionUri(model: string, version: string): string {
    return joinUri(this.modelRoot(model), 'versions', `${version.padStart(6, '0')}.json`);
  }

  /** Names of every model with at least one version, sorted. */
  async listModels(): Promise<string[]> {
    const root = this.registryRoot();
    const uris = await storageFor(root).list(root);
    const models = new Set<string>();
    for (const uri of uris) {
      // <root>/<model>/versions/<n>.json, whatever the separator of the scheme.
      const parts = uri.slice(root.length).split(/[\\/]/).filter(Boolean);
      if (parts.length === 3 && parts[1] === 'versions' && /^\d+\.json$/.test(parts[2]!))
        models.add(parts[0]!);
    }
    return [...models].sort();
  }

  /** Every version of a model, oldest first (by number, so v10 follows v9). */
  async listVersions(model: string): Promise<ModelVersionRecord[]> {
    const uris = await storageFor(this.storeUri).list(joinUri(this.modelRoot(model), 'versions'));
    const records = await Promise.all(
      uris.filter((uri) => /\d+\.json$/.test(uri)).map((uri) => readJsonIfExists<ModelVersionRecord>(uri)),
    );
    return records
      .filter((record): record is ModelVersionRecord => record !== undefined)
      .sort((a, b) => Number(a.version) - Number(b.version));
  }

  async getVersion(model: string, version: string): Promise<ModelVersionRecord | undefined> {
    const normalized = normalizeVersion(version);
    return normalized ? readJsonIfExists<ModelVersionRecord>(this.versionUri(model, normalized)) : undefined;
  }

  /**
   * Registers a new candidate version. A second call from the same workflow run (an activity
   * retry) returns the first call's record instead of a new version.
   */
  async register(entry: NewModelVersion & { code: CodeVersion }): Promise<ModelVersionRecord> {
    const { code, ...rest } = entry;
    const runId = entry.lineage.run.runId;
    const existing = await this.listVersions(entry.model);
    const sameRun = existing.find((record) => record.lineage?.run.runId === runId);
    if (sameRun) return sameRun;
    const storage = storageFor(this.storeUri);
    let next = existing.reduce((max, record) => Math.max(max, Number(record.version)), 0) + 1;
    for (;;) {
      const createdAt = new Date().toISOString();
      const record: ModelVersionRecord = {
        model: rest.model,
        version: String(next),
        status: 'candidate',
        modelUri: rest.modelUri,
        createdAt,
        lineage: { ...rest.lineage, code: rest.lineage.code ?? code },
        metrics: rest.metrics,
        approvals: [],
        history: [{ status: 'candidate', at: createdAt }],
      };
      const uri = this.versionUri(entry.model, record.version);
      // An exclusive create claims the number; a pipeline that lost the race tries the next one.
      if (await storage.writeIfGeneration(uri, JSON.stringify(record, null, 2), null)) return record;
      // ... unless the winner was an earlier attempt of this very run.
      const winner = await readJsonIfExists<ModelVersionRecord>(uri);
      if (winner?.lineage?.run.runId === runId) return winner;
      next += 1;
    }
  }

  /** Atomically rewrites one version's record; `change` may throw to refuse. */
  private async updateVersion(
    model: string,
    version: string,
    change: (record: ModelVersionRecord) => ModelVersionRecord,
  ): Promise<ModelVersionRecord> {
    const normalized = normalizeVersion(version);
    if (!normalized) throw new UnknownModelVersionError(model, version);
    return updateJson<ModelVersionRecord>(this.versionUri(model, normalized), (record) => {
      // Never create a version here: only register numbers versions.
      if (!record) throw new UnknownModelVersionError(model, version);
      return change({ ...record, approvals: record.approvals ?? [] });
    });
  }

  /**
   * Moves a version to `status`, if the transition table allows it (IllegalStatusChangeError
   * otherwise). Setting the current status again is a no-op, so retries are safe.
   */
  async setStatus(
    model: string,
    version: string,
    status: ModelVersionStatus,
    options: ChangeOptions = {},
  ): Promise<ModelVersionRecord> {
    return this.updateVersion(model, version, (record) => {
      if (record.status === status) return record;
      checkStatusChange(record, status);
      return { ...record, status, history: [...record.history, statusChange(status, options)] };
    });
  }

  /**
   * Records a decision; at the candidate gate it also moves the status (approved → approved,
   * rejected or timed out → rejected). Recording the identical decision again changes nothing.
   */
  async recordApproval(model: string, version: string, approval: Approval): Promise<ModelVersionRecord> {
    return this.updateVersion(model, version, (record) => {
      if (record.approvals.some((existing) => sameApproval(existing, approval))) return record;
      const updated = { ...record, approvals: [...record.approvals, approval] };
      if (approval.gate !== 'candidate') return updated;
      const status = approval.decision === 'approved' ? 'approved' : 'rejected';
      if (record.status === status) return updated;
      checkStatusChange(record, status);
      const note = approval.note ?? (approval.decision === 'timed-out' ? 'approval timed out' : undefined);
      return {
        ...updated,
        status,
        history: [...record.history, statusChange(status, { by: approval.by, ...(note ? { note } : {}) })],
      };
    });
  }

  /** Adds or replaces top-level keys of a version's metrics (a report link known only once numbered). */
  async mergeMetrics(
    model: string,
    version: string,
    extra: Record<string, unknown>,
  ): Promise<ModelVersionRecord> {
    return this.updateVersion(model, version, (record) => ({
      ...record,
      metrics: { ...record.metrics, ...extra },
    }));
  }

  async getAliases(model: string): Promise<ModelAliases> {
    const aliases = await readJsonIfExists<Partial<ModelAliases>>(this.aliasesUri(model));
    return { ...aliases, history: aliases?.history ?? [] };
  }

  /**
   * Points `production` at a version and `previous` at the one it replaces, recording the change.
   * Already production: nothing changes.
   */
  async setProduction(
    model: string,
    version: string,
    options: SetProductionOptions = {},
  ): Promise<ModelAliases> {
    const normalized = normalizeVersion(version);
    // An alias to a version that does not exist would make serving and rollback fail later, far from the cause.
    if (!normalized || !(await this.getVersion(model, normalized)))
      throw new UnknownModelVersionError(model, version);
    return updateJson<ModelAliases>(this.aliasesUri(model), (current) => {
      const aliases: ModelAliases = { ...current, history: current?.history ?? [] };
      if (aliases.production === normalized) return aliases;
      const change: AliasChange = {
        production: normalized,
        ...(aliases.production ? { previous: aliases.production } : {}),
        at: new Date().toISOString(),
        ...(options.by ? { by: options.by } : {}),
        ...(options.reason ? { reason: options.reason } : {}),
      };
      const previous = aliases.production ?? aliases.previous;
      return {
        production: normalized,
        ...(previous ? { previous } : {}),
        history: [...aliases.history, change],
      };
    });
  }

  async getProduction(model: string): Promise<ModelVersionRecord | undefined> {
    const { production } = await this.getAliases(model);
    return production ? this.getVersion(model, production) : undefined;
  }

  /**
   * The version a rollback would put back in production (`to`, else the `previous` alias) and
   * the one serving now. Throws RollbackRefusedError saying why and what to do instead.
   */
  async resolveRollbackTarget(
    model: string,
    to?: string,
  ): Promise<{ target: ModelVersionRecord; current?: ModelVersionRecord }> {
    const [aliases, versions] = await Promise.all([this.getAliases(model), this.listVersions(model)]);
    if (versions.length === 0)
      throw new RollbackRefusedError(`model ${model} has no versions in the registry`);
    const current = versions.find((record) => record.version === aliases.production);
    const formerProduction = versions
      .filter((record) => record.version !== aliases.production && wasInProduction(record))
      .map((record) => `v${record.version}`);
    const instead =
      formerProduction.length > 0
        ? `pass --to with a version that served production before: ${formerProduction.join(', ')}`
        : 'no other version has served production, so there is nothing to roll back to';
    let wanted: string;
    if (to === undefined) {
      if (!aliases.previous) {
        throw new RollbackRefusedError(
          `no previous production version to roll back to for ${model}` +
            (current
              ? ` (v${current.version} is the first to serve production)`
              : ' (nothing has served production)'),
        );
      }
      wanted = aliases.previous;
      // After one rollback, `previous` names the version just rolled back: restoring it by default
      // would undo the rollback, so the operator must name it.
      const previous = versions.find((record) => record.version === wanted);
      if (previous?.status === 'rolled-back') {
        throw new RollbackRefusedError(
          `the previous production version of ${model}, v${wanted}, was rolled back; name the version to restore: ${instead}`,
        );
      }
    } else {
      const normalized = normalizeVersion(to);
      if (!normalized || !versions.some((record) => record.version === normalized)) {
        throw new RollbackRefusedError(
          `model ${model} has no version ${to}; it has ${versions.map((record) => `v${record.version}`).join(', ')}`,
        );
      }
      wanted = normalized;
    }
    const target = versions.find((record) => record.version === wanted);
    if (!target) {
      throw new RollbackRefusedError(
        `the previous production alias of ${model} names v${wanted}, which is not in the registry; ${instead}`,
      );
    }
    if (target.version === aliases.production) {
      throw new RollbackRefusedError(`v${target.version} of ${model} is already in production; ${instead}`);
    }
    if (!wasInProduction(target)) {
      throw new RollbackRefusedError(
        `v${target.version} of ${model} has never served production (it is ${target.status}), so it is not a rollback target: ` +
          `${instead}. To ship a version that never served, run a pipeline: it goes through approval and a canary.`,
      );
    }
    return { target, ...(current ? { current } : {}) };
  }
}
