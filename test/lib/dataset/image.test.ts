import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeAdImage, imageFormatOf, ImageDecodeError } from '../../../lib/dataset/image';

const solid = () =>
  sharp({ create: { width: 6, height: 4, channels: 3, background: { r: 9, g: 99, b: 199 } } });

describe('decodeAdImage', () => {
  it('decodes PNG, JPEG and WebP to size × size × 3 pixels', async () => {
    for (const [format, bytes] of [
      ['png', await solid().png().toBuffer()],
      ['jpeg', await solid().jpeg().toBuffer()],
      ['webp', await solid().webp({ lossless: true }).toBuffer()],
    ] as const) {
      assert.equal(imageFormatOf(bytes), format);
      const pixels = await decodeAdImage(bytes, 5);
      assert.equal(pixels.length, 5 * 5 * 3, format);
      assert.deepEqual(
        [...pixels.subarray(0, 3)].map((v) => Math.round(v / 10)),
        [1, 10, 20],
        format,
      );
    }
  });

  it('refuses every other format before decoding, naming what it looks like', async () => {
    const svg = Buffer.from(
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>',
    );
    const cases: Array<[Buffer, RegExp]> = [
      [svg, /looks an SVG/],
      [await solid().gif().toBuffer(), /looks a GIF/],
      [await solid().tiff().toBuffer(), /looks a TIFF/],
      [Buffer.from('%PDF-1.7\n'), /looks a PDF/],
      [Buffer.from('hello'), /looks of an unknown kind/],
    ];
    for (const [bytes, reason] of cases) {
      await assert.rejects(decodeAdImage(bytes, 4), (err: unknown) => {
        assert.ok(err instanceof ImageDecodeError);
        assert.match(err.message, /^not a PNG, JPEG or WebP image: /);
        assert.match(err.message, reason);
        return true;
      });
    }
    // sharp itself would have read these: the refusal is ours, not a decoding failure.
    assert.equal((await sharp(await solid().gif().toBuffer()).metadata()).format, 'gif');
  });
});
