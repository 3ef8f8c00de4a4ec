/**
 * `GET /v1/models/{model}/versions/{version}/report`: a registered version's evaluation report: the
 * HTML page with its charts when there is one (else the Markdown), `?format=html` for the page
 * alone, `?format=md` for the Markdown, `?format=json` for the data (summary and curves).
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
  metrics?: { reportUri?: unknown; reportMarkdownUri?: unknown; reportHtmlUri?: unknown };
}

/** Where the report of one version lives, from its registry record. */
interface ReportLocation {
  markdownUri?: string;
  jsonUri?: string;
  htmlUri?: string;
}

export interface ReportRouteOptions {
  /** Root URI of the artifact store holding `registry/`. */
  storeUri: string;
}

/** `md` and `markdown` are one format; without `format`, HTML when it exists, else Markdown. */
export const REPORT_FORMATS = ['html', 'md', 'markdown', 'json'] as const;
type ReportFormat = (typeof REPORT_FORMATS)[number];
type ReportKind = 'html' | 'markdown' | 'json';

const querySchema = {
  type: 'object',
  properties: { format: { type: 'string', enum: REPORT_FORMATS } },
} as const;

const KINDS: Record<ReportKind, { key: keyof ReportLocation; name: string; contentType: string }> = {
  html: { key: 'htmlUri', name: 'HTML', contentType: 'text/html; charset=utf-8' },
  markdown: { key: 'markdownUri', name: 'Markdown', contentType: 'text/markdown; charset=utf-8' },
  json: { key: 'jsonUri', name: 'JSON', contentType: 'application/json; charset=utf-8' },
};

/**
 * The page is self-contained (inline SVG and CSS, no script): anything else it might try to load,
 * from data that slipped past escaping, is refused by the browser.
 */
const HTML_SECURITY_POLICY =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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
  const { reportUri, reportMarkdownUri, reportHtmlUri } = record.metrics ?? {};
  const markdown = typeof reportMarkdownUri === 'string' ? reportMarkdownUri : undefined;
  const json = typeof reportUri === 'string' ? reportUri : undefined;
  const html = typeof reportHtmlUri === 'string' ? reportHtmlUri : undefined;
  // Records written before report.md (or report.html) existed name fewer files; the others are
  // looked for beside the ones named.
  const any = json ?? markdown ?? html;
  return {
    markdownUri: markdown ?? (any ? sibling(any, 'report.md') : undefined),
    jsonUri: json ?? (any ? sibling(any, 'report.json') : undefined),
    htmlUri: html ?? (any ? sibling(any, 'report.html') : undefined),
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
      const location = locate(record);
      const requested = request.query.format;
      /** The report of one kind, or why not: outside the store, or missing from it. */
      const read = async (kind: ReportKind): Promise<Buffer | HttpError> => {
        const uri = location[KINDS[kind].key];
        if (!uri) {
          return new HttpError(
            404,
            'report_not_found',
            `${model} v${version} has no evaluation report recorded in the registry`,
          );
        }
        // The record is data; it must not make this route read files outside the store.
        if (!isUnderStore(storeUri, uri)) {
          return new HttpError(
            404,
            'report_not_found',
            `the report of ${model} v${version} is outside the store`,
          );
        }
        return (
          (await readReport(uri)) ??
          new HttpError(
            404,
            'report_not_found',
            `the ${KINDS[kind].name} report of ${model} v${version} is missing from the store`,
          )
        );
      };
      const send = (kind: ReportKind, body: Buffer) => {
        void reply.header('content-type', KINDS[kind].contentType);
        if (kind === 'html') {
          void reply.header('content-security-policy', HTML_SECURITY_POLICY);
          void reply.header('x-content-type-options', 'nosniff');
        }
        return body;
      };
      if (requested === undefined) {
        // Reports written before the HTML page existed are served as Markdown.
        const html = await read('html');
        if (Buffer.isBuffer(html)) return send('html', html);
      }
      const kind: ReportKind = requested === 'html' || requested === 'json' ? requested : 'markdown';
      const body = await read(kind);
      if (!Buffer.isBuffer(body)) throw body;
      return send(kind, body);
    },
  );
}
