/** Decodes an ad image to the model's input: RGB pixels at a fixed square size. */
import sharp from 'sharp';

/** Refuse images larger than this many pixels before decoding them (decompression bombs). */
export const MAX_INPUT_PIXELS = 25_000_000;

export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

/** Decodes PNG/JPEG/WebP bytes to size × size × 3 RGB; throws ImageDecodeError with the reason. */
export async function decodeAdImage(bytes: Buffer, size: number): Promise<Uint8Array> {
  if (bytes.length === 0) throw new ImageDecodeError('image file is empty');
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .removeAlpha()
      .resize(size, size, { fit: 'fill' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageDecodeError(`expected 3 colour channels, got ${info.channels}`);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) throw new ImageDecodeError(await tooLargeMessage(bytes));
    throw new ImageDecodeError(`unreadable image: ${message}`);
  }
}

/** Names the dimensions of an image refused by the pixel limit; reads its header only, never its pixels. */
async function tooLargeMessage(bytes: Buffer): Promise<string> {
  const limit = `exceeds the pixel limit of ${MAX_INPUT_PIXELS} (a decompression bomb guard)`;
  try {
    const { width, height } = await sharp(bytes, { limitInputPixels: false }).metadata();
    return `image too large: ${width}×${height} px ${limit}`;
  } catch {
    return `image too large: ${limit}`;
  }
}
