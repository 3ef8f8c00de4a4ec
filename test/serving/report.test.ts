import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../serving/errors';
import { createServingFixture, request, type ServingFixture } from './fixture';

const MARKDOWN = '# Evaluation report: ctr\n\n**Blessed**\n';
const HTML = '<!doctype html>\n<html lang="en"><body><svg></svg><svg></svg></body></html>\n';
const SUMMARY = {
  candidate: { auc: 0.73, logLoss: 0.45, count: 100 },
  slices: [],
  blessed: true,
  failures: [],
};

let fixture: ServingFixture;
let url: string;

/** Writes a registry record as the registry stores it, with the given metrics. */
async function writeRecord(model: string, version: string, metrics: Record<string, unknown>): Promise<void> {
  const file = path.join(fixture.storeUri, 'registry', model, 'versions', `${version.padStart(6, '0')}.json`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify({ model, version, status: 'candidate', metrics }));
}

/** Writes report.md, report.json and (when asked) report.html in a run's evaluate folder; answers their paths. */
async function writeReport(run: string, files: { markdown?: boolean; json?: boolean; html?: boolean } = {}) {
  const dir = path.join(fixture.storeUri, 'runs', run, 'run-id', 'evaluate');
  await fs.mkdir(dir, { recursive: true });
  const reportUri = path.join(dir, 'report.json');
  const reportMarkdownUri = path.join(dir, 'report.md');
  const reportHtmlUri = path.join(dir, 'report.html');
  if (files.html) {
    await fs.writeFile(reportHtmlUri, HTML);
    await fs.writeFile(reportMarkdownUri, MARKDOWN);
    await fs.writeFile(
      reportUri,
      JSON.stringify({ ...SUMMARY, reportUri, reportMarkdownUri, reportHtmlUri }),
    );
    return { reportUri, reportMarkdownUri, reportHtmlUri };
  }
  if (files.markdown !== false) await fs.writeFile(reportMarkdownUri, MARKDOWN);
  if (files.json !== false)
    await fs.writeFile(reportUri, JSON.stringify({ ...SUMMARY, reportUri, reportMarkdownUri }));
  return { reportUri, reportMarkdownUri };
}

const reportUrl = (model: string, version: string, query = '') =>
  `${url}/v1/models/${model}/versions/${version}/report${query}`;

/** GET with the path sent exactly as written: fetch would resolve `..` and `%2E%2E` before sending. */
function rawGet(model: string, version: string): Promise<{ status: number; body: ErrorBody }> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(url), { path: `/v1/models/${model}/versions/${version}/report` }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as ErrorBody }));
    });
    req.on('error', reject);
  });
}

void describe('GET /v1/models/{model}/versions/{version}/report', () => {
  before(async () => {
    fixture = await createServingFixture();
    ({ url } = await fixture.start());
    await writeRecord('ctr', '7', { auc: 0.73, ...(await writeReport('wf-7')) });
    // Written before report.md existed: only report.json is named; the Markdown is found beside it.
    await writeRecord('ctr', '8', { auc: 0.74, reportUri: (await writeReport('wf-8')).reportUri });
    await writeRecord('ctr', '9', { auc: 0.75 });
    await writeRecord('ctr', '10', await writeReport('wf-10', { markdown: false }));
    await writeRecord('ctr', '11', { reportMarkdownUri: '/etc/hostname', reportUri: '/etc/hostname' });
    await writeRecord('other_model-2', '1', await writeReport('wf-other'));
    await writeRecord('ctr', '12', { auc: 0.76, ...(await writeReport('wf-12', { html: true })) });
    // Written before report.html was recorded: the page is found beside report.json.
    await writeRecord('ctr', '13', { reportUri: (await writeReport('wf-13', { html: true })).reportUri });
  });
  after(() => fixture.close());

  void it('answers the HTML report by default when there is one', async () => {
    for (const version of ['12', '13']) {
      const response = await request<string>(reportUrl('ctr', version));
      assert.equal(response.status, 200, version);
      assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(response.body, HTML);
    }
    assert.equal((await request<string>(reportUrl('ctr', '12', '?format=html'))).body, HTML);
  });

  void it('answers the Markdown with ?format=md (or markdown) even when there is HTML', async () => {
    for (const format of ['md', 'markdown']) {
      const response = await request<string>(reportUrl('ctr', '12', `?format=${format}`));
      assert.equal(response.status, 200, format);
      assert.equal(response.headers.get('content-type'), 'text/markdown; charset=utf-8');
      assert.equal(response.body, MARKDOWN);
    }
    assert.equal((await request(reportUrl('ctr', '12', '?format=json'))).status, 200);
  });

  void it('answers 404 for ?format=html when only the Markdown was written', async () => {
    const response = await request<ErrorBody>(reportUrl('ctr', '7', '?format=html'));
    assert.equal(response.status, 404);
    assert.deepEqual(response.body, {
      error: 'the HTML report of ctr v7 is missing from the store',
      code: 'report_not_found',
    });
  });

  void it('answers the Markdown by default for reports written before the HTML page existed', async () => {
    const response = await request<string>(reportUrl('ctr', '7'));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/markdown; charset=utf-8');
    assert.equal(response.body, MARKDOWN);
  });

  void it('answers report.json with ?format=json', async () => {
    const response = await request<typeof SUMMARY>(reportUrl('ctr', '7', '?format=json'));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(response.body.candidate, SUMMARY.candidate);
    assert.equal(response.body.blessed, true);
  });

  void it('finds report.md beside report.json for records that name only the JSON', async () => {
    const response = await request<string>(reportUrl('ctr', '8'));
    assert.equal(response.status, 200);
    assert.equal(response.body, MARKDOWN);
  });

  void it('reads the zero-padded record whatever padding the caller used', async () => {
    assert.equal((await request(reportUrl('ctr', '0007'))).status, 200);
    assert.equal((await request(reportUrl('other_model-2', '1'))).status, 200);
  });

  void it('answers 404 with a reason for an unknown model or version', async () => {
    const model = await request<ErrorBody>(reportUrl('nope', '1'));
    assert.equal(model.status, 404);
    assert.deepEqual(model.body, { error: 'no model named nope in the registry', code: 'model_not_found' });
    const version = await request<ErrorBody>(reportUrl('ctr', '99'));
    assert.equal(version.status, 404);
    assert.deepEqual(version.body, {
      error: 'model ctr has no version 99 in the registry',
      code: 'version_not_found',
    });
  });

  void it('answers 404 with a reason when the report is not recorded or missing', async () => {
    const unrecorded = await request<ErrorBody>(reportUrl('ctr', '9'));
    assert.equal(unrecorded.status, 404);
    assert.equal(unrecorded.body.code, 'report_not_found');
    assert.match(unrecorded.body.error, /ctr v9 has no evaluation report recorded/);
    const missing = await request<ErrorBody>(reportUrl('ctr', '10'));
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /the Markdown report of ctr v10 is missing from the store/);
    assert.equal((await request(reportUrl('ctr', '10', '?format=json'))).status, 200);
  });

  void it('never reads a report outside the store, whatever the record says', async () => {
    const response = await request<ErrorBody>(reportUrl('ctr', '11'));
    assert.equal(response.status, 404);
    assert.match(response.body.error, /outside the store/);
  });

  void it('answers 400 for a version that is not a number', async () => {
    for (const version of ['abc', '1.5', '-1', '..', '%2E%2E', '7%2F..']) {
      const response = await rawGet('ctr', version);
      assert.equal(response.status, 400, version);
      assert.equal(response.body.code, 'invalid_version');
    }
  });

  void it('answers 400 for a model name that could leave the registry folder', async () => {
    for (const model of ['c.tr', '..', '%2E%2E', '..%2F..%2Fruns', 'ctr%00', 'a%20b']) {
      const response = await rawGet(model, '7');
      assert.equal(response.status, 400, model);
      assert.equal(response.body.code, 'invalid_model_name');
      assert.match(response.body.error, /letters, digits, _ and -/);
    }
  });

  void it('answers 400 for an unknown format', async () => {
    const response = await request<ErrorBody>(reportUrl('ctr', '7', '?format=xml'));
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 'invalid_request');
    assert.match(response.body.error, /querystring\.format must be equal to one of the allowed values/);
  });
});
