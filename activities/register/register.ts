/** Registry activities: record a candidate with its lineage, move it through its statuses, look up production. */
import { ApplicationFailure } from '@temporalio/common';
import { getCodeVersion } from '../../lib/registry/code-version';
import {
  type Approval,
  IllegalStatusChangeError,
  ModelRegistry,
  type ModelVersionRecord,
  type ModelVersionStatus,
  type NewModelVersion,
  RegistryError,
  UnknownModelVersionError,
} from '../../lib/registry/index';
import type { ActivityDeps } from '../deps';
import { FAILURE, type FailureType } from '../../contracts/failures';

/** A lower-numbered version still waiting as a candidate, from another run: the new one supersedes it. */
export interface OlderCandidate {
  version: string;
  workflowId: string;
  runId: string;
}

/** What workflows need of a version: records carry lineage and config, too large for every history. */
export interface VersionRef {
  version: string;
  modelUri: string;
  /** Statistics of the data it was trained on, for drift; absent for versions registered before they were kept. */
  statisticsUri?: string;
}

const refOf = (record: ModelVersionRecord): VersionRef => ({
  version: record.version,
  modelUri: record.modelUri,
  ...(record.lineage?.data?.statisticsUri ? { statisticsUri: record.lineage.data.statisticsUri } : {}),
});

export interface RegisterModelVersionResult extends VersionRef {
  olderCandidates: OlderCandidate[];
  /** Where a person reads the evaluation report (the prediction server's report route), when one is served. */
  reportUrl?: string;
}

export interface SetStatusInput {
  model: string;
  version: string;
  status: ModelVersionStatus;
  by?: string;
  note?: string;
  /** Change only a version in one of these statuses; any other is left as it is. */
  onlyFrom?: ModelVersionStatus[];
}

export interface RecordApprovalInput {
  model: string;
  version: string;
  approval: Approval;
}

export interface SetProductionAliasInput {
  model: string;
  version: string;
  by?: string;
  reason?: string;
}

export interface ResolveRollbackTargetInput {
  model: string;
  /** A version number; without it, the `previous` alias. */
  to?: string;
}

export interface ResolveRollbackTargetResult {
  target: VersionRef;
  current?: VersionRef;
}

/**
 * Runs a registry call, turning the errors no retry can fix into non-retryable failures;
 * storage errors stay plain, so the retry policy handles them.
 */
async function refusingPermanently<T>(action: () => Promise<T>, type?: FailureType): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    const failureType =
      type ??
      (err instanceof IllegalStatusChangeError
        ? FAILURE.IllegalStatusChange
        : err instanceof UnknownModelVersionError
          ? FAILURE.UnknownModelVersion
          : FAILURE.RegistryError);
    throw ApplicationFailure.create({
      nonRetryable: true,
      type: failureType,
      message: err.message,
      cause: err,
    });
  }
}

/** The prediction server's page for a version's evaluation report. */
export function reportUrlFor(servingUrl: string, model: string, version: string): string {
  return `${servingUrl.replace(/\/+$/, '')}/v1/models/${encodeURIComponent(model)}/versions/${version}/report`;
}

/** Registry activities over the store at `deps.storeUri`; report links point at the first serving URL. */
export function createRegistryActivities(
  deps: Pick<ActivityDeps, 'storeUri'> & Partial<Pick<ActivityDeps, 'servingUrls'>>,
) {
  const registry = new ModelRegistry(deps.storeUri);
  const servingUrl = deps.servingUrls?.[0];
  return {
    /**
     * Registers the candidate with the running code's version in its lineage; a retry from the same
     * run gets the same version back. Also names older candidates the new version supersedes.
     */
    async registerModelVersion(entry: NewModelVersion): Promise<RegisterModelVersionResult> {
      let record = await registry.register({ ...entry, code: await getCodeVersion() });
      // The link names the version, so it is known only now; kept in the record for `mlops models show`.
      const hasReport =
        typeof record.metrics.reportUri === 'string' || typeof record.metrics.reportMarkdownUri === 'string';
      const reportUrl =
        servingUrl && hasReport ? reportUrlFor(servingUrl, record.model, record.version) : undefined;
      if (reportUrl && record.metrics.reportUrl !== reportUrl) {
        record = await registry.mergeMetrics(record.model, record.version, { reportUrl });
      }
      const olderCandidates = (await registry.listVersions(record.model))
        .filter(
          (other) =>
            Number(other.version) < Number(record.version) &&
            other.status === 'candidate' &&
            other.lineage?.run !== undefined &&
            other.lineage.run.runId !== record.lineage.run.runId,
        )
        .map((other) => ({
          version: other.version,
          workflowId: other.lineage.run.workflowId,
          runId: other.lineage.run.runId,
        }));
      return { ...refOf(record), olderCandidates, ...(reportUrl ? { reportUrl } : {}) };
    },

    /** Moves a version to a status; an illegal move fails for good (IllegalStatusChange). */
    async setModelVersionStatus({
      model,
      version,
      status,
      by,
      note,
      onlyFrom,
    }: SetStatusInput): Promise<void> {
      if (onlyFrom) {
        const current = await registry.getVersion(model, version);
        if (!current || !onlyFrom.includes(current.status)) return;
      }
      await refusingPermanently(() =>
        registry.setStatus(model, version, status, { ...(by ? { by } : {}), ...(note ? { note } : {}) }),
      );
    },

    /** Appends a decision to the version's record, moving its status at the candidate gate. */
    async recordApproval({ model, version, approval }: RecordApprovalInput): Promise<void> {
      await refusingPermanently(() => registry.recordApproval(model, version, approval));
    },

    /** The version serving production, if any, so evaluation can compare against it. */
    async getProductionVersion({ model }: { model: string }): Promise<VersionRef | undefined> {
      const production = await registry.getProduction(model);
      return production ? refOf(production) : undefined;
    },

    /** Points the production alias at a version, keeping the one it replaces as `previous`. */
    async setProductionAlias({ model, version, by, reason }: SetProductionAliasInput): Promise<void> {
      await refusingPermanently(() =>
        registry.setProduction(model, version, { ...(by ? { by } : {}), ...(reason ? { reason } : {}) }),
      );
    },

    /** The version a rollback returns to, and the one it replaces; a refused rollback fails for good (RollbackRefused). */
    async resolveRollbackTarget({
      model,
      to,
    }: ResolveRollbackTargetInput): Promise<ResolveRollbackTargetResult> {
      const { target, current } = await refusingPermanently(
        () => registry.resolveRollbackTarget(model, to),
        FAILURE.RollbackRefused,
      );
      return { target: refOf(target), ...(current ? { current: refOf(current) } : {}) };
    },
  };
}
