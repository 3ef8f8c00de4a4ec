/** Validation of decision payloads typed by people into the Web UI or CLI. Workflow-safe, pure. */
import type { ApprovePayload, RejectPayload, RolloutCommandPayload } from './definitions';

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

function checkDecision(
  payload: unknown,
  optionalText: 'comment' | 'reason',
): Checked<{ by: string; text?: string }> {
  if (payload === undefined || payload === null)
    return { ok: false, reason: 'empty payload; expected {"by": "name"}' };
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    return {
      ok: false,
      reason: `payload must be a JSON object like {"by": "name"}, got ${JSON.stringify(payload)}`,
    };
  }
  const record = payload as Record<string, unknown>;
  if (typeof record.by !== 'string' || record.by.trim() === '') {
    return {
      ok: false,
      reason: `"by" must be a non-empty string naming who decides, got ${JSON.stringify(record.by)}`,
    };
  }
  const text = record[optionalText];
  if (text !== undefined && typeof text !== 'string') {
    return {
      ok: false,
      reason: `"${optionalText}" must be a string when given, got ${JSON.stringify(text)}`,
    };
  }
  return { ok: true, value: { by: record.by.trim(), ...(text ? { text } : {}) } };
}

export function checkApprovePayload(payload: unknown): Checked<ApprovePayload> {
  const checked = checkDecision(payload, 'comment');
  if (!checked.ok) return checked;
  const { by, text } = checked.value;
  return { ok: true, value: { by, ...(text ? { comment: text } : {}) } };
}

export function checkRejectPayload(payload: unknown): Checked<RejectPayload> {
  const checked = checkDecision(payload, 'reason');
  if (!checked.ok) return checked;
  const { by, text } = checked.value;
  return { ok: true, value: { by, ...(text ? { reason: text } : {}) } };
}

/** Payload of the rollout commands pause/resume/promote/abort: {"by": "name", "reason": "optional"}. */
export function checkRolloutCommandPayload(payload: unknown): Checked<RolloutCommandPayload> {
  return checkRejectPayload(payload);
}
