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

/** The formats images may come in, by their files' first bytes; sharp would decode many more. */
export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** The file's format by its signature, or undefined for anything but PNG, JPEG and WebP. */
export function imageFormatOf(bytes: Buffer): ImageFormat | undefined {
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** What an unaccepted file seems to be, for the error message. */
function looksLike(bytes: Buffer): string {
  const head = bytes.toString('latin1', 0, 256).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'an SVG';
  if (head.startsWith('gif8')) return 'a GIF';
  if (head.startsWith('bm')) return 'a BMP';
  if (head.startsWith('ii*') || head.startsWith('mm\u0000*')) return 'a TIFF';
  if (head.startsWith('%pdf')) return 'a PDF';
  return 'of an unknown kind';
}

/**
 * Decodes PNG/JPEG/WebP bytes to size × size × 3 RGB; throws ImageDecodeError with the reason.
 * Other formats are refused before decoding, even those sharp reads (an SVG would be rendered by
 * librsvg, a GIF or TIFF decoded): training and serving accept the same three.
 */
export async function decodeAdImage(bytes: Buffer, size: number): Promise<Uint8Array> {
  if (bytes.length === 0) throw new ImageDecodeError('image file is empty');
  if (imageFormatOf(bytes) === undefined) {
    throw new ImageDecodeError(`not a PNG, JPEG or WebP image: the file looks ${looksLike(bytes)}`);
  }
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
