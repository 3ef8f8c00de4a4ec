import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../serving/errors';
import { createServingFixture, request, validInstance, type ServingFixture } from './fixture';

describe('malformed image_uri values and URLs are 4xx in the API error shape', () => {
  let fixture: ServingFixture;
  let url: string;
  let predictUrl: string;
  let imageDir: string;

  before(async () => {
    fixture = await createServingFixture();
    const modelUri = await fixture.saveVersion('3');
    await fixture.deploy({ revision: 1, stable: { version: '3', modelUri } });
    imageDir = path.join(fixture.storeUri, 'images');
    await fs.mkdir(path.join(imageDir, 'subdir'), { recursive: true });
    ({ url } = await fixture.start({ models: ['ctr'], imageUriRoots: [imageDir] }));
    predictUrl = `${url}/v1/models/ctr:predict`;
  });
  after(() => fixture.close());

  /** Predicts with a valid first instance and `imageUri` as the second, so errors must name instances[1]. */
  async function predictWithUri(imageUri: string) {
    return request<ErrorBody>(predictUrl, {
      body: {
        instances: [
          await validInstance(),
          await validInstance({ image_b64: undefined, image_uri: imageUri }),
        ],
      },
    });
  }

  const invalid: Array<{ name: string; uri: () => string; reason: RegExp }> = [
    { name: 'a file:// URI with a host', uri: () => `file://host${imageDir}/ad.png`, reason: /host/i },
    { name: 'a broken percent escape', uri: () => `file:///%E0%A4%A`, reason: /malformed/i },
    {
      name: 'an encoded slash',
      uri: () => `${pathToFileURL(imageDir).href}/a%2Fb.png`,
      reason: /encoded \/|must not include/i,
    },
    { name: 'a NUL byte in a path', uri: () => path.join(imageDir, 'ad\0.png'), reason: /NUL/ },
    {
      name: 'a NUL byte in a file:// URI',
      uri: () => `${pathToFileURL(imageDir).href}/ad%00.png`,
      reason: /NUL/,
    },
  ];
  for (const { name, uri, reason } of invalid) {
    it(`answers 400 invalid_image_uri for ${name}`, async () => {
      const res = await predictWithUri(uri());
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'invalid_image_uri');
      assert.match(res.body.error, /instances\[1\]/);
      assert.match(res.body.error, reason);
    });
  }

  it('answers 400 image_unreadable naming the instance for a directory under an allowed root', async () => {
    for (const uri of [path.join(imageDir, 'subdir'), pathToFileURL(path.join(imageDir, 'subdir')).href]) {
      const res = await predictWithUri(uri);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'image_unreadable');
      assert.match(res.body.error, /instances\[1\]/);
      assert.match(res.body.error, /EISDIR/);
    }
  });

  it('keeps 400 image_not_found for a missing file, as a path or a file:// URI', async () => {
    for (const uri of [path.join(imageDir, 'no.png'), pathToFileURL(path.join(imageDir, 'no.png')).href]) {
      const res = await predictWithUri(uri);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'image_not_found');
    }
  });

  it('answers 400 invalid_url in the API shape for a URL that cannot be percent-decoded', async () => {
    for (const [target, method] of [
      [`${url}/v1/models/%E0%A4%A`, 'GET'],
      [`${url}/v1/models/%E0%A4%A:predict`, 'POST'],
    ] as const) {
      const res = await request<ErrorBody>(target, {
        method,
        ...(method === 'POST' ? { body: { instances: [await validInstance()] } } : {}),
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.deepEqual(Object.keys(res.body).sort(), ['code', 'error']);
      assert.equal(res.body.code, 'invalid_url');
      assert.equal(typeof res.body.error, 'string');
      assert.match(res.headers.get('x-request-id') ?? '', /.+/);
    }
  });
});
