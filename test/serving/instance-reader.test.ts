import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { featureSpecSchema, FEATURE_SPEC_FORMAT } from '../../contracts/feature-spec';
import { instanceReaderFor } from '../../serving/instance-reader';
import { HttpError } from '../../serving/errors';

const spec = featureSpecSchema.parse({
  format: FEATURE_SPEC_FORMAT,
  label: { column: 'y', positive: '1' },
  features: [
    { column: 'size', kind: 'categorical' },
    { column: 'photo', kind: 'image' },
  ],
});
const read = instanceReaderFor(spec);

void describe('instanceReaderFor: categorical values and image fields', () => {
  void it('reads a number sent for a categorical as the digits a CSV cell would hold', () => {
    assert.equal(read({ size: 1.5, photo: { b64: 'AA==' } }, 0).features.size, '1.5');
    assert.equal(read({ size: 42, photo: { b64: 'AA==' } }, 0).features.size, '42');
  });

  void it('refuses a boolean for a categorical, naming the column', () => {
    assert.throws(
      () => read({ size: true, photo: { b64: 'AA==' } }, 3),
      (err: unknown) =>
        err instanceof HttpError && /body\.instances\[3\]\.size must be string/.test(err.message),
    );
  });

  void it('remembers where the image was sent, so its errors name that field', () => {
    assert.deepEqual(read({ size: 'L', photo: { b64: 'AA==' } }, 0).image, {
      image_b64: 'AA==',
      sentAs: 'photo.b64',
    });
    assert.deepEqual(read({ size: 'L', photo: '/images/a.png' }, 0).image, {
      image_uri: '/images/a.png',
      sentAs: 'photo',
    });
  });
});
