import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { RawImage } from '../image/png.js';
import { writeFileAtomic } from '../weights/atomic_fs.js';

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

/** Thrown for a file that is not a readable image; `reason` is one short phrase for skipped.csv. */
export class ImageDecodeError extends Error {
  constructor(readonly source: string, readonly reason: string) {
    super(`Cannot decode image ${source}: ${reason}.`);
    this.name = 'ImageDecodeError';
  }
}

/** File extensions treated as photos when listing a folder. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.avif'];

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

/** An RGB image as a float tensor [H, W, 3] in [-1, 1], the range the FaceShifter networks use. */
export function imageToTensor(image: RawImage): tf.Tensor3D {
  if (image.channels !== 3) throw new Error(`imageToTensor: expected an RGB image, got ${image.channels} channels.`);
  const f = new Float32Array(image.data.length);
  for (let i = 0; i < f.length; i++) f[i] = image.data[i]! / 127.5 - 1;
  return tf.tensor3d(f, [image.height, image.width, 3]);
}

/** A [H, W, 3] tensor in [-1, 1] back to an 8-bit RGB image (clipped, rounded). */
export async function tensorToImage(t: tf.Tensor3D): Promise<RawImage & { channels: 3 }> {
  const [height, width, c] = t.shape;
  if (c !== 3) throw new Error(`tensorToImage: expected [H, W, 3], got [${t.shape}].`);
  const v = await t.data();
  const data = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) data[i] = Math.max(0, Math.min(255, Math.round((v[i]! + 1) * 127.5)));
  return { width, height, channels: 3, data };
}
