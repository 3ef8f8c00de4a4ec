/**
 * Recorded workflow histories for replay tests: saved as Temporal's proto JSON (the shape
 * `temporal workflow show --output json` writes) plus the workflow id they were recorded under.
 */
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';
import { format } from 'prettier';

/** Where the recorded histories live. */
export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');

/** One recorded history, ready for `Worker.runReplayHistories`. */
export interface RecordedHistory {
  /** The id it ran under: child workflow ids in the history are checked against it on replay. */
  workflowId: string;
  history: History;
  /** The file it was read from. */
  file: string;
  /** The workflow type, from its first event. */
  workflowType: string;
}

/** Fetches a workflow's full event history (of its latest run unless told) and writes it to `file`. */
export async function saveHistory(
  client: Client,
  workflowId: string,
  file: string,
  runId?: string,
): Promise<History> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  // The id goes first, beside the events: history readers (the SDK's historyFromJSON, ours) read only `events`.
  const json = { workflowId, ...scrubMachineDetails(historyToProtoJson(history)) };
  await fs.mkdir(path.dirname(file), { recursive: true });
  // Written as prettier writes JSON, so `npm run format` leaves recorded files alone.
  await fs.writeFile(file, await format(JSON.stringify(json), { parser: 'json' }));
  return history;
}

/** What a recorded history says instead of the worker or client identity (`pid@hostname`). */
export const RECORDED_IDENTITY = 'history-recorder';
/** The repository root, cut from the absolute paths in failure stack traces. */
const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Drops what only says which machine recorded a history, so a re-recording does not differ by
 * it: worker and client identities, and this checkout's absolute path in failure stack traces.
 * Replay reads neither (identities are informational; a stack trace only becomes `error.stack`).
 */
export function scrubMachineDetails<T>(json: T): T {
  const scrub = (value: unknown, key?: string): unknown => {
    if (typeof value === 'string') {
      if (key === 'identity') return RECORDED_IDENTITY;
      if (key === 'stackTrace') return value.replaceAll(`${REPO_ROOT}${path.sep}`, '');
      return value;
    }
    if (Array.isArray(value)) return value.map((item) => scrub(item));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, k)]));
    }
    return value;
  };
  return scrub(json) as T;
}

/** Reads every `*.json` history in `dir`, sorted by file name. */
export async function* loadHistories(dir: string = HISTORIES_DIR): AsyncGenerator<RecordedHistory> {
  const files = (await fs.readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  for (const name of files) {
    const file = path.join(dir, name);
    let json: unknown;
    let history: History;
    try {
      json = JSON.parse(await fs.readFile(file, 'utf8'));
      history = historyFromProtoJson(json);
    } catch (err) {
      throw new Error(`${file} is not a workflow history: ${(err as Error).message}`, { cause: err });
    }
    const workflowType =
      history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
    if (!workflowType) throw new Error(`${file} does not start with a WorkflowExecutionStarted event`);
    const recordedId = (json as { workflowId?: unknown }).workflowId;
    // A history exported from the Web UI or CLI has no id; its file name stands in for it.
    const workflowId = typeof recordedId === 'string' ? recordedId : path.basename(name, '.json');
    yield { workflowId, history, file, workflowType };
  }
}

/** The child workflows a history started, in order: id, run id and type. */
export function childWorkflows(
  history: History,
): Array<{ workflowId: string; runId: string; workflowType: string }> {
  return (history.events ?? []).flatMap((event) => {
    const started = event.childWorkflowExecutionStartedEventAttributes;
    const { workflowId, runId } = started?.workflowExecution ?? {};
    const workflowType = started?.workflowType?.name;
    return workflowId && runId && workflowType ? [{ workflowId, runId, workflowType }] : [];
  });
}

/** The part of protobufjs' ProtoJSON extension used here. */
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): unknown;
}

/**
 * historyToJSON/historyFromJSON of @temporalio/common 1.24 throw "type must be a Type" in this
 * install: common and proto each get their own copy of protobufjs 8 (the top-level slot holds
 * grpc's protobufjs 7), and common's ProtoJSON converter refuses the Type objects of proto's copy.
 * The same converter, loaded from the copy @temporalio/proto was built with, does the same job.
 */
const protoJson = createRequire(require.resolve('@temporalio/proto'))(
  'protobufjs/ext/protojson',
) as ProtoJson;
const historyType = (patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown }).lookupType(
  'temporal.api.history.v1.History',
);

/** A history in Temporal's proto JSON, as `temporal workflow show --output json` writes it. */
export function historyToProtoJson(history: History): object {
  return protoJson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history)) as object;
}

/** Reads a proto JSON history (unknown fields, such as our `workflowId`, are ignored). */
export function historyFromProtoJson(json: unknown): History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('expected an object with an array of events');
  }
  return protoJson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
