import * as tf from '@tensorflow/tfjs';
import { toChannelOrder, type ChannelOrder, type RawImage } from '@faceshifter/core/node';

/**
 * Lays out image batches as a grid, one column per batch (e.g. source | target | swap | HEAR output) and one row
 * per sample, with a 2-pixel white gutter. Inputs are [B, H, W, 3] in [-1, 1], in `channels` order (BGR for
 * weights trained on BGR); the result is 8-bit RGB.
 */
export async function sampleGrid(columns: tf.Tensor4D[], maxRows = 8, channels: ChannelOrder = 'rgb'): Promise<RawImage> {
  if (columns.length === 0) throw new Error('sampleGrid: no columns given.');
  const [b, h, w, c] = columns[0]!.shape;
  for (const col of columns) {
    if (col.shape[1] !== h || col.shape[2] !== w || col.shape[3] !== c || col.shape[0] !== b) {
      throw new Error(`sampleGrid: column of shape [${col.shape}] does not match [${columns[0]!.shape}].`);
    }
  }
  if (c !== 3) throw new Error(`sampleGrid: images need 3 channels, got ${c}.`);
  const rows = Math.min(b, maxRows);
  const gap = 2;
  const width = columns.length * (w + gap) - gap;
  const height = rows * (h + gap) - gap;
  const data = new Uint8Array(width * height * 3).fill(255);
  // Read asynchronously, as GPU backends (webgpu in Node) require.
  const columnPixels = await Promise.all(
    columns.map(async (col) => {
      const bytes = tf.tidy(() => tf.clipByValue(tf.mul(tf.add(toChannelOrder(col.slice([0, 0, 0, 0], [rows, h, w, 3]), channels), 1), 127.5), 0, 255).round());
      const pixels = await bytes.data();
      bytes.dispose();
      return pixels;
    }),
  );
  columnPixels.forEach((pixels, ci) => {
    for (let r = 0; r < rows; r++) {
      for (let y = 0; y < h; y++) {
        const src = (r * h + y) * w * 3;
        const dst = ((r * (h + gap) + y) * width + ci * (w + gap)) * 3;
        data.set(pixels.subarray(src, src + w * 3), dst);
      }
    }
  });
  return { width, height, channels: 3, data };
}
