/**
 * `GET /v1/models/{model}/versions/{version}/report`: a registered version's evaluation report, as
 * Markdown (default) or, with `?format=json`, the summary evaluation wrote beside it.
 */
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  joinUri,
  NotFoundError,
  readJsonIfExists,
  schemeOf,
  storageFor,
  toLocalPath,
} from '../../lib/storage';
import { HttpError } from '../errors';

/** Model names this route accepts: nothing that could climb out of the registry folder. */
export const REPORT_MODEL_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Registry versions are positive integers, stored zero-padded to 6 digits. */
export const REPORT_VERSION_PATTERN = /^\d{1,12}$/;

/** The part of a registry record this route reads; the registry module owns the full shape. */
interface RegistryRecordReportFields {
  metrics?: { reportUri?: unknown; reportMarkdownUri?: unknown };
}

/** Where the report of one version lives, from its registry record. */
interface ReportLocation {
  markdownUri?: string;
  jsonUri?: string;
}

export interface ReportRouteOptions {
  /** Root URI of the artifact store holding `registry/`. */
  storeUri: string;
}

type ReportFormat = 'markdown' | 'json';

const querySchema = {
  type: 'object',
  properties: { format: { type: 'string', enum: ['markdown', 'json'] } },
} as const;

function sibling(uri: string, name: string): string {
  return uri.replace(/[^/\\]+$/, name);
}

function isUnderStore(storeUri: string, uri: string): boolean {
  if (schemeOf(storeUri) !== schemeOf(uri)) return false;
  if (schemeOf(uri) === 'gs') return uri.startsWith(`${storeUri.replace(/\/+$/, '')}/`);
  const relative = path.relative(toLocalPath(storeUri), toLocalPath(uri));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function locate(record: RegistryRecordReportFields): ReportLocation {
  const { reportUri, reportMarkdownUri } = record.metrics ?? {};
  const markdown = typeof reportMarkdownUri === 'string' ? reportMarkdownUri : undefined;
  const json = typeof reportUri === 'string' ? reportUri : undefined;
  // Records written before report.md existed name only report.json; the Markdown is looked for beside it.
  return {
    markdownUri: markdown ?? (json ? sibling(json, 'report.md') : undefined),
    jsonUri: json ?? (markdown ? sibling(markdown, 'report.json') : undefined),
  };
}

async function readReport(uri: string): Promise<Buffer | undefined> {
  try {
    return await storageFor(uri).read(uri);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** Registers the report route, reading registry records and reports from `storeUri`. */
export function registerReportRoute(app: FastifyInstance, options: ReportRouteOptions): void {
  const { storeUri } = options;
  app.get<{ Params: { model: string; version: string }; Querystring: { format?: ReportFormat } }>(
    '/v1/models/:model/versions/:version/report',
    { schema: { querystring: querySchema } },
    async (request, reply) => {
      const { model, version } = request.params;
      if (!REPORT_MODEL_PATTERN.test(model)) {
        throw new HttpError(
          400,
          'invalid_model_name',
          'model names may contain only letters, digits, _ and - (at most 128)',
        );
      }
      if (!REPORT_VERSION_PATTERN.test(version)) {
        throw new HttpError(
          400,
          'invalid_version',
          `version must be a number, got ${JSON.stringify(version)}`,
        );
      }
      const modelRoot = joinUri(storeUri, 'registry', model);
      const record = await readJsonIfExists<RegistryRecordReportFields>(
        joinUri(modelRoot, 'versions', `${version.padStart(6, '0')}.json`),
      );
      if (!record) {
        const known = (await storageFor(modelRoot).list(joinUri(modelRoot, 'versions'))).length > 0;
        throw known
          ? new HttpError(
              404,
              'version_not_found',
              `model ${model} has no version ${version} in the registry`,
            )
          : new HttpError(404, 'model_not_found', `no model named ${model} in the registry`);
      }
      const format = request.query.format ?? 'markdown';
      const location = locate(record);
      const uri = format === 'json' ? location.jsonUri : location.markdownUri;
      if (!uri) {
        throw new HttpError(
          404,
          'report_not_found',
          `${model} v${version} has no evaluation report recorded in the registry`,
        );
      }
      // The record is data; it must not make this route read files outside the store.
      if (!isUnderStore(storeUri, uri)) {
        throw new HttpError(
          404,
          'report_not_found',
          `the report of ${model} v${version} is outside the store`,
        );
      }
      const body = await readReport(uri);
      if (!body) {
        throw new HttpError(
          404,
          'report_not_found',
          `the ${format === 'json' ? 'JSON' : 'Markdown'} report of ${model} v${version} is missing from the store`,
        );
      }
      void reply.header(
        'content-type',
        format === 'json' ? 'application/json; charset=utf-8' : 'text/markdown; charset=utf-8',
      );
      return body;
    },
  );
}
