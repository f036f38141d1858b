import { decodePng, type RawImage } from '@faceshifter/core';

/**
 * Photos picked in the browser, decoded to the 8-bit RGB the face pipeline takes.
 *
 * PNGs go through the core's own decoder, so that the browser and `yarn swap` in Node see identical pixels (the
 * browser's decoder may colour-manage, Node's sharp does not). Everything else the browser decodes
 * (createImageBitmap, then a canvas), applying EXIF orientation like the Node side does.
 */

export type RgbImage = RawImage & { channels: 3 };

/** A photo that cannot be decoded; the message names the file and the fix. */
export class PhotoDecodeError extends Error {
  constructor(name: string, role: string, reason: string) {
    super(`${name}: cannot decode the ${role} image (${reason}); pick a JPEG, PNG, WebP or AVIF photo`);
    this.name = 'PhotoDecodeError';
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(bytes: Uint8Array): boolean {
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Grey or RGBA to RGB; alpha is flattened onto black, as the Node decoder does. */
export function toRgb(image: RawImage): RgbImage {
  const { width, height, channels, data } = image;
  if (channels === 3) return { width, height, channels: 3, data };
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const a = channels === 4 ? data[p * 4 + 3]! : 255;
    for (let c = 0; c < 3; c++) {
      const v = channels === 4 ? data[p * 4 + c]! : data[p]!;
      out[p * 3 + c] = a === 255 ? v : Math.round((v * a) / 255);
    }
  }
  return { width, height, channels: 3, data: out };
}

async function decodeWithBrowser(blob: Blob): Promise<RawImage> {
  const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no 2D canvas in this browser');
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    return { width: bitmap.width, height: bitmap.height, channels: 4, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } finally {
    bitmap.close();
  }
}

/** Decodes a picked or dropped file; `role` (source, target) goes into the error message. */
export async function decodePhoto(file: Blob & { name: string }, role: string): Promise<RgbImage> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (bytes.length === 0) throw new PhotoDecodeError(file.name, role, 'the file is empty');
  if (isPng(bytes)) {
    try {
      return toRgb(decodePng(bytes, file.name));
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // Palette, 16-bit and interlaced PNGs are valid: the browser decodes those. A corrupt one is an error.
      if (!/unsupported PNG/.test(message)) throw new PhotoDecodeError(file.name, role, message.replace(`${file.name}: `, '').replace(/\.$/, ''));
    }
  }
  try {
    return toRgb(await decodeWithBrowser(new Blob([bytes], { type: file.type })));
  } catch (e) {
    const reason = e instanceof Error && e.message ? e.message.split('\n')[0]! : 'not an image, or a format this browser does not read';
    throw new PhotoDecodeError(file.name, role, /source image could not be decoded|InvalidStateError/i.test(reason) ? 'not an image, or a format this browser does not read' : reason);
  }
}
