import * as tf from '@tensorflow/tfjs';
import { single, singleShape, type LayerArgs } from './common.js';

export interface AvgPoolExcludePadArgs extends LayerArgs {
  /** Window size. Default 3. */
  poolSize?: number;
  /** Stride. Default 2. */
  strides?: number;
  /** Zeros added on every side of H and W. Default 1. */
  padding?: number;
}

/**
 * Average pooling with explicit symmetric padding that does NOT count the padding: each output is the mean of
 * the input pixels inside its window only, as PyTorch's `AvgPool2d(..., count_include_pad=False)`. The
 * pix2pixHD multi-scale discriminator downsamples with (3, 2, 1) this way. tfjs's 'same' pooling also excludes
 * padding but places it differently (none on top/left for these sizes), so it is not the same operation.
 */
export class AvgPoolExcludePad extends tf.layers.Layer {
  static className = 'AvgPoolExcludePad';
  readonly poolSize: number;
  readonly strides: number;
  readonly padding: number;

  constructor(args: AvgPoolExcludePadArgs = {}) {
    super(args);
    this.poolSize = args.poolSize ?? 3;
    this.strides = args.strides ?? 2;
    this.padding = args.padding ?? 1;
    if (this.padding * 2 > this.poolSize) {
      throw new Error(`AvgPoolExcludePad: padding (${this.padding}) must be at most half the pool size (${this.poolSize})`);
    }
  }

  private outSize(n: number): number {
    return Math.floor((n + 2 * this.padding - this.poolSize) / this.strides) + 1;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, h, w, c] = singleShape(inputShape);
    return [b!, h == null ? null : this.outSize(h), w == null ? null : this.outSize(w), c!];
  }

  /** How many real (unpadded) input positions each window along an axis of length n covers. */
  private counts(n: number): number[] {
    return Array.from({ length: this.outSize(n) }, (_, i) => {
      const start = i * this.strides - this.padding;
      return Math.min(start + this.poolSize, n) - Math.max(start, 0);
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single<tf.Tensor4D>(inputs);
      const [, h, w] = x.shape;
      const p = this.padding;
      const padded = p > 0 ? tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]) : x;
      // avgPool over the zero-padded input divides by poolSize²; rescale each output to its real count.
      const pooled = tf.avgPool(padded, this.poolSize, this.strides, 'valid');
      const ch = this.counts(h);
      const cw = this.counts(w);
      const k2 = this.poolSize * this.poolSize;
      const scale = new Float32Array(ch.length * cw.length);
      ch.forEach((a, i) => cw.forEach((b, j) => (scale[i * cw.length + j] = k2 / (a * b))));
      return tf.mul(pooled, tf.tensor4d(scale, [1, ch.length, cw.length, 1]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
}
tf.serialization.registerClass(AvgPoolExcludePad);
