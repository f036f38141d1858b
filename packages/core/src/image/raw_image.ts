import * as tf from '@tensorflow/tfjs';
import type { RawImage } from './png.js';

/** Pixel buffers and tensors, and what every image decoder (sharp in Node, the browser's in the web app) throws. */

/** Thrown for a file that is not a readable image; `reason` is one short phrase for skipped.csv. */
export class ImageDecodeError extends Error {
  constructor(readonly source: string, readonly reason: string) {
    super(`Cannot decode image ${source}: ${reason}.`);
    this.name = 'ImageDecodeError';
  }
}

/** File extensions treated as photos when listing a folder. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.avif'];

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
