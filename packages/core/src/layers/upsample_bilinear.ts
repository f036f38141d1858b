import * as tf from '@tensorflow/tfjs';
import { single, singleShape, type LayerArgs } from './common.js';

export interface UpsampleBilinearArgs extends LayerArgs {
  /** Integer upsampling factor of H and W. Default 2. */
  factor?: number;
  /**
   * Map the corner pixels of input and output onto each other, as PyTorch's `align_corners=True`
   * (source = dst·(in − 1)/(out − 1)). Default true: FaceShifter's generator, encoder (z_att^8) and HEAR-Net use it.
   */
  alignCorners?: boolean;
}

/**
 * Bilinear upsampling of an NHWC tensor by an integer factor. tfjs's UpSampling2D cannot align corners, which
 * the reference does everywhere it interpolates; the difference is a shift of a quarter pixel at ×2.
 */
export class UpsampleBilinear extends tf.layers.Layer {
  static className = 'UpsampleBilinear';
  readonly factor: number;
  readonly alignCorners: boolean;

  constructor(args: UpsampleBilinearArgs = {}) {
    super(args);
    this.factor = args.factor ?? 2;
    this.alignCorners = args.alignCorners ?? true;
    if (!Number.isInteger(this.factor) || this.factor < 1) {
      throw new Error(`UpsampleBilinear: factor must be a positive integer, got ${JSON.stringify(args.factor)}`);
    }
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, h, w, c] = singleShape(inputShape);
    return [b!, h == null ? null : h * this.factor, w == null ? null : w * this.factor, c!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single<tf.Tensor4D>(inputs);
      if (this.factor === 1) return tf.clone(x);
      const [, h, w] = x.shape;
      return tf.image.resizeBilinear(x, [h * this.factor, w * this.factor], this.alignCorners);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), factor: this.factor, alignCorners: this.alignCorners };
  }
}
tf.serialization.registerClass(UpsampleBilinear);
