import sharp from 'sharp';
import { ImageDecodeError } from '../image/raw_image.js';
import type { RawImage } from '../image/png.js';
import { writeFileAtomic } from './atomic_fs.js';

/**
 * Photo decoding and encoding for face preparation and the training loader, through sharp (libvips).
 *
 * Why sharp: decode time of one 256x256 image on this machine (2 cores, Node 20; median of 200, see faces/README.md):
 *
 * | library                | JPEG q92 | PNG     | runs on                   |
 * |------------------------|----------|---------|---------------------------|
 * | sharp 0.35.5           | 1.20 ms  | 1.46 ms | libuv worker threads      |
 * | @jsquash/jpeg|png      | 0.89 ms  | 1.59 ms | the JS thread (wasm)      |
 * | jpeg-js 0.4.4 / pngjs 7| 3.25 ms  | 1.35 ms | the JS thread             |
 * | fast-png 8             |    -     | 2.68 ms | the JS thread             |
 *
 * The per-image times are close; what decides is where the work runs. tfjs's wasm and cpu backends run a
 * training step on the JS thread, so a decoder on that thread adds its time to every step, while sharp decodes
 * (and resizes, and reads EXIF orientation) on worker threads in parallel with the step. It is also the only
 * one that reads every common format (JPEG, PNG, WebP, TIFF, AVIF) and writes PNG 5x faster than pngjs.
 * Its prebuilt libvips ships as npm packages (@img/sharp-*), so it installs without a download.
 */

function describe(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : `<${input.byteLength}-byte buffer>`;
}

function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/unsupported image format/i.test(msg)) return 'not an image (unsupported or unknown format)';
  if (/premature end|truncated|unexpected end/i.test(msg)) return 'truncated or corrupt image data';
  if (/ENOENT|no such file/i.test(msg)) return 'file not found';
  return msg.split('\n')[0]!.replace(/\.$/, '');
}

export interface DecodeOptions {
  /** Resize (Lanczos) to exactly this width and height, ignoring aspect ratio; for aligned crops. */
  resize?: number;
}

/**
 * Decodes a photo (path or bytes) to 8-bit sRGB, 3 channels, upright (EXIF orientation applied); alpha is
 * flattened onto black, grey is expanded to RGB. Truncated files are errors, not half-grey images.
 */
export async function decodeImage(input: string | Uint8Array, options: DecodeOptions = {}): Promise<RawImage & { channels: 3 }> {
  try {
    let pipeline = sharp(input, { failOn: 'truncated' }).rotate().flatten({ background: '#000000' }).toColourspace('srgb');
    if (options.resize) pipeline = pipeline.resize(options.resize, options.resize, { fit: 'fill', kernel: 'lanczos3' });
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new ImageDecodeError(describe(input), reasonOf(e));
  }
}

/** Resizes an RGB image (Lanczos when shrinking) to exactly `width` x `height`. */
export async function resizeImage(image: RawImage, width: number, height: number): Promise<RawImage> {
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: image.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** PNG bytes of an RGB image; maximum compression, since prepared datasets are written once and read often. */
export async function encodePngSharp(image: RawImage): Promise<Uint8Array> {
  const { width, height, channels, data } = image;
  if (data.length !== width * height * channels) {
    throw new Error(`encodePngSharp: ${data.length} bytes for a ${width}x${height}x${channels} image.`);
  }
  const buf = await sharp(data, { raw: { width, height, channels } })
    .png({ compressionLevel: 9, adaptiveFiltering: true })
    .toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Writes an image as PNG atomically (temporary file in the same folder, then rename). */
export async function writePng(file: string, image: RawImage): Promise<void> {
  await writeFileAtomic(file, await encodePngSharp(image));
}
