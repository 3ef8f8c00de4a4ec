/** The OpenAPI 3 document: valid by a standard validator, listing every route the server has. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { RouteOptions } from 'fastify';
import type { OpenAPIV3 } from 'openapi-types';
import { createPredictionServer, type PredictionServer } from '../../serving/server';
import { ADMIN_TOKEN, createServingFixture, request, type ServingFixture } from './fixture';

/** A fastify route URL as an OpenAPI path: `:model(^regex)` → `{model}`, `::` → `:`. */
const openApiPath = (url: string) =>
  url
    .replaceAll('::', '\u0000')
    .replace(/:(\w+)(\([^)]*\))?/g, '{$1}')
    .replaceAll('\u0000', ':');

describe('OpenAPI document', () => {
  let fixture: ServingFixture;
  let server: PredictionServer;
  const routes: RouteOptions[] = [];

  before(async () => {
    fixture = await createServingFixture();
    server = createPredictionServer({ storeUri: fixture.storeUri, adminToken: ADMIN_TOKEN, port: 0 });
    server.app.addHook('onRoute', (route) => void routes.push(route));
    await server.start();
  });
  after(async () => {
    await server.stop();
    await fixture.close();
  });

  it('is a valid OpenAPI 3 document with every route of the server in it', async () => {
    const url = server.app.listeningOrigin;
    const { status, body } = await request<OpenAPIV3.Document>(`${url}/openapi.json`);
    assert.equal(status, 200);
    assert.match(body.openapi, /^3\./);
    // The validator dereferences in place: give it its own copy.
    await SwaggerParser.validate(structuredClone(body));

    const documented = routes.filter((route) => {
      const hidden = route.schema?.hide === true;
      return !hidden && !route.url.startsWith('/docs');
    });
    assert.ok(documented.length >= 20, `only ${documented.length} routes seen`);
    for (const route of documented) {
      for (const method of [route.method].flat()) {
        if (method === 'HEAD') continue;
        const path = openApiPath(route.url);
        const operation = body.paths[path]?.[method.toLowerCase() as OpenAPIV3.HttpMethods];
        assert.ok(operation, `${method} ${route.url} (${path}) is not in the document`);
      }
    }
    assert.deepEqual(body.paths['/admin/reload']?.post?.security, [{ adminToken: [] }]);
    const predict = body.paths['/v1/models/{model}:predict']?.post;
    assert.ok(predict?.requestBody, 'the predict route documents its body');
  });

  it('serves a browsable copy at /docs', async () => {
    const page = await request<string>(`${server.app.listeningOrigin}/docs/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /swagger-ui/i);
  });
});
