/** Validation of payloads typed by people into the Web UI or CLI, and of internal notices. Workflow-safe, pure. */
import type {
  ApprovePayload,
  DecidePayload,
  Decision,
  GateNotice,
  RejectPayload,
  RolloutCommandPayload,
  SupersedePayload,
} from './temporal';

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

const show = (value: unknown) => JSON.stringify(value) ?? String(value);

function asObject(payload: unknown, example: string): Checked<Record<string, unknown>> {
  if (payload === undefined || payload === null)
    return { ok: false, reason: `empty payload; expected ${example}` };
  if (typeof payload !== 'object' || Array.isArray(payload))
    return { ok: false, reason: `payload must be a JSON object like ${example}, got ${show(payload)}` };
  return { ok: true, value: payload as Record<string, unknown> };
}

/** A misspelt key ("coment") would silently lose what the reviewer wrote, so it is refused. */
function unknownKeys(record: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const unknown = Object.keys(record).filter((key) => !allowed.includes(key));
  if (unknown.length === 0) return undefined;
  return `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key}"`).join(', ')}; allowed: ${allowed.map((key) => `"${key}"`).join(', ')}`;
}

function optionalText(record: Record<string, unknown>, key: string): Checked<string | undefined> {
  const value = record[key];
  if (value !== undefined && typeof value !== 'string')
    return { ok: false, reason: `"${key}" must be a string when given, got ${show(value)}` };
  return { ok: true, value: value?.trim() || undefined };
}

/** Versions are strings, but people type {"version": 3} as often as {"version": "3"}. */
function optionalVersion(record: Record<string, unknown>): Checked<string | undefined> {
  const value = record.version;
  if (value === undefined) return { ok: true, value: undefined };
  if (typeof value === 'number' && Number.isInteger(value) && value > 0)
    return { ok: true, value: String(value) };
  // "003" names the same version as "3".
  if (typeof value === 'string' && /^\d+$/.test(value.trim()) && Number(value) > 0)
    return { ok: true, value: String(Number(value)) };
  return { ok: false, reason: `"version" must be a version number like "3", got ${show(value)}` };
}

interface CheckedDecision {
  by: string;
  text?: string;
  version?: string;
}

function checkDecision(payload: unknown, textKey: 'comment' | 'reason'): Checked<CheckedDecision> {
  const object = asObject(payload, '{"by": "name"}');
  if (!object.ok) return object;
  const record = object.value;
  const unknown = unknownKeys(record, ['by', textKey, 'version']);
  if (unknown) return { ok: false, reason: unknown };
  if (typeof record.by !== 'string' || record.by.trim() === '')
    return {
      ok: false,
      reason: `"by" must be a non-empty string naming who decides, got ${show(record.by)}`,
    };
  const text = optionalText(record, textKey);
  if (!text.ok) return text;
  const version = optionalVersion(record);
  if (!version.ok) return version;
  return {
    ok: true,
    value: {
      by: record.by.trim(),
      ...(text.value ? { text: text.value } : {}),
      ...(version.value ? { version: version.value } : {}),
    },
  };
}

export function checkApprovePayload(payload: unknown): Checked<ApprovePayload> {
  const checked = checkDecision(payload, 'comment');
  if (!checked.ok) return checked;
  const { by, text, version } = checked.value;
  return { ok: true, value: { by, ...(text ? { comment: text } : {}), ...(version ? { version } : {}) } };
}

export function checkRejectPayload(payload: unknown): Checked<RejectPayload> {
  const checked = checkDecision(payload, 'reason');
  if (!checked.ok) return checked;
  const { by, text, version } = checked.value;
  return { ok: true, value: { by, ...(text ? { reason: text } : {}), ...(version ? { version } : {}) } };
}

/** The `decide` Update's payload: {"decision": "approve"|"reject", "by": …, "comment"|"reason": …, "version": …}. */
export function checkDecidePayload(payload: unknown): Checked<DecidePayload> {
  const object = asObject(payload, '{"decision": "approve", "by": "name"}');
  if (!object.ok) return object;
  const { decision, ...rest } = object.value;
  if (decision !== 'approve' && decision !== 'reject')
    return { ok: false, reason: `"decision" must be "approve" or "reject", got ${show(decision)}` };
  if (decision === 'approve') {
    const checked = checkApprovePayload(rest);
    return checked.ok ? { ok: true, value: { decision, ...checked.value } } : checked;
  }
  const checked = checkRejectPayload(rest);
  return checked.ok ? { ok: true, value: { decision, ...checked.value } } : checked;
}

/** Payload of the rollout commands pause/resume/promote/abort: {"by": "name", "reason": "optional"}. */
export function checkRolloutCommandPayload(payload: unknown): Checked<RolloutCommandPayload> {
  const object = asObject(payload, '{"by": "name"}');
  if (!object.ok) return object;
  const unknown = unknownKeys(object.value, ['by', 'reason']);
  if (unknown) return { ok: false, reason: unknown };
  const checked = checkRejectPayload(object.value);
  if (!checked.ok) return checked;
  const { by, reason } = checked.value;
  return { ok: true, value: { by, ...(reason ? { reason } : {}) } };
}

export function checkSupersedePayload(payload: unknown): Checked<SupersedePayload> {
  const object = asObject(payload, '{"version": "5", "workflowId": "…"}');
  if (!object.ok) return object;
  const { version, workflowId } = object.value;
  if (typeof version !== 'string' || !/^\d+$/.test(version))
    return { ok: false, reason: `"version" must be a version number string, got ${show(version)}` };
  if (typeof workflowId !== 'string' || workflowId === '')
    return { ok: false, reason: `"workflowId" must be a non-empty string, got ${show(workflowId)}` };
  return { ok: true, value: { version, workflowId } };
}

export function checkGateNotice(payload: unknown): Checked<GateNotice> {
  const object = asObject(payload, '{"state": "waiting", "weight": 50}');
  if (!object.ok) return object;
  const { state, weight, deadline, decision } = object.value;
  if (state !== 'waiting' && state !== 'closed')
    return { ok: false, reason: `"state" must be "waiting" or "closed", got ${show(state)}` };
  if (typeof weight !== 'number')
    return { ok: false, reason: `"weight" must be a number, got ${show(weight)}` };
  if (deadline !== undefined && typeof deadline !== 'string')
    return { ok: false, reason: `"deadline" must be an ISO time string, got ${show(deadline)}` };
  if (decision !== undefined) {
    const d = (typeof decision === 'object' ? decision : null) as Partial<
      Record<keyof Decision, unknown>
    > | null;
    if (
      !d ||
      (d.kind !== 'approved' && d.kind !== 'rejected') ||
      typeof d.by !== 'string' ||
      typeof d.at !== 'string'
    )
      return {
        ok: false,
        reason: `"decision" must be a decision like {"kind": "approved", "by": "…", "at": "…"}, got ${show(decision)}`,
      };
  }
  return {
    ok: true,
    value: {
      state,
      weight,
      ...(deadline ? { deadline } : {}),
      ...(decision ? { decision: decision as Decision } : {}),
    },
  };
}
