import * as tf from '@tensorflow/tfjs';
import { single, singleShape, type LayerArgs } from './common.js';

/**
 * The mean over H and W of an NHWC tensor, keeping the axes (B×1×1×C). Forward: one average pool over the whole
 * map, a single pass on every backend (tf.mean over axes [1, 2] transposes the whole tensor first on wasm: ~15×
 * slower at 256²×64). Backward: dy / (H·W) broadcast over H×W (the generic AvgPoolGrad is very slow for a window this
 * large).
 */
export const spatialMean = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor4D;
  const [, h, w] = x.shape;
  return {
    value: tf.avgPool(x, [h, w], 1, 'valid'),
    // Broadcast by adding to zeros: tfjs-wasm's Tile is ~50x slower than a broadcasting Add at these shapes.
    gradFunc: (dy: tf.Tensor) => tf.add(tf.zeros(x.shape), tf.div(dy, h * w)),
  };
}) as (x: tf.Tensor4D) => tf.Tensor4D;

/**
 * Instance normalisation of an NHWC tensor: each sample's channel is normalised over H×W with the biased
 * variance, (x − μ) / √(σ² + ε), as PyTorch's InstanceNorm2d. Shared by {@link InstanceNorm} and the AAD layer.
 */
export function instanceNormalize(x: tf.Tensor4D, epsilon: number): tf.Tensor4D {
  return tf.tidy(() => {
    const centered: tf.Tensor4D = tf.sub(x, spatialMean(x));
    const variance = spatialMean(tf.square(centered));
    return tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon)));
  });
}

export interface InstanceNormArgs extends LayerArgs {
  /** ε added to the variance. Default 1e-5 (PyTorch). */
  epsilon?: number;
  /** Learn a per-channel scale γ (init 1) and shift β (init 0) after normalising. Default false (paper, pix2pixHD). */
  affine?: boolean;
}

/**
 * InstanceNorm (Ulyanov et al. 2016) for NHWC inputs: normalises every sample and channel over H and W.
 * Without affine parameters by default, which is what FaceShifter's AAD layer (h̄ = IN(h_in)) and the pix2pixHD
 * discriminator use.
 */
export class InstanceNorm extends tf.layers.Layer {
  static className = 'InstanceNorm';
  readonly epsilon: number;
  readonly affine: boolean;
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;

  constructor(args: InstanceNormArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-5;
    this.affine = args.affine ?? false;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = singleShape(inputShape);
    if (shape.length !== 4) throw new Error(`InstanceNorm '${this.name}': expected an NHWC input, got shape [${shape.join(', ')}]`);
    const channels = shape[3];
    if (this.affine) {
      if (channels == null) throw new Error(`InstanceNorm '${this.name}': the channel axis must be known when affine is true`);
      this.gamma = this.addWeight('gamma', [channels], 'float32', tf.initializers.ones());
      this.beta = this.addWeight('beta', [channels], 'float32', tf.initializers.zeros());
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single<tf.Tensor4D>(inputs);
      const y = instanceNormalize(x, this.epsilon);
      if (!this.gamma || !this.beta) return y;
      return tf.add(tf.mul(y, this.gamma.read()), this.beta.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon, affine: this.affine };
  }
}
tf.serialization.registerClass(InstanceNorm);
