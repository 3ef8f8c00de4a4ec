/** Which status a model version may move to next, and the history entry a move records. */
import { IllegalStatusChangeError } from './errors';
import type { ChangeOptions, ModelVersionRecord, ModelVersionStatus, StatusChange } from './types';

/** Where each status may go next; `archived` and `rolled-back` only for former production versions. */
const TRANSITIONS: Record<ModelVersionStatus, readonly ModelVersionStatus[]> = {
  candidate: ['approved', 'rejected', 'archived'],
  // rolled-back: a rollout that ended before the version took any traffic.
  approved: ['canary', 'archived', 'rejected', 'rolled-back'],
  canary: ['production', 'rolled-back'],
  production: ['archived', 'rolled-back'],
  archived: ['production', 'canary'],
  'rolled-back': ['production'],
  rejected: [],
};

/** Statuses a version may leave only if it once served production: they are rollback targets. */
const ROLLBACK_ONLY: ReadonlySet<ModelVersionStatus> = new Set(['archived', 'rolled-back']);

/** Whether a version has served production at some point. */
export function wasInProduction(record: Pick<ModelVersionRecord, 'history'>): boolean {
  return record.history.some((change) => change.status === 'production');
}

/** The statuses `record` may move to now. */
export function allowedNextStatuses(
  record: Pick<ModelVersionRecord, 'status' | 'history'>,
): ModelVersionStatus[] {
  if (ROLLBACK_ONLY.has(record.status) && !wasInProduction(record)) return [];
  return [...TRANSITIONS[record.status]];
}

/** Throws IllegalStatusChangeError, saying why and what is possible, unless `record` may become `to`. */
export function checkStatusChange(record: ModelVersionRecord, to: ModelVersionStatus): void {
  const allowed = allowedNextStatuses(record);
  if (allowed.includes(to)) return;
  const why =
    ROLLBACK_ONLY.has(record.status) && TRANSITIONS[record.status].includes(to)
      ? `only a version that once served production can come back from ${record.status}, and it never did`
      : allowed.length === 0
        ? `${record.status} is final; register a new version instead`
        : `from ${record.status} it can become ${allowed.join(' or ')}`;
  throw new IllegalStatusChangeError(
    `${record.model} v${record.version} is ${record.status}; it cannot become ${to} (${why})`,
  );
}

/** The history entry for a move to `status`, stamped now. */
export function statusChange(status: ModelVersionStatus, { by, note }: ChangeOptions): StatusChange {
  return { status, at: new Date().toISOString(), ...(by ? { by } : {}), ...(note ? { note } : {}) };
}
