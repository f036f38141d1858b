import * as tf from '@tensorflow/tfjs';

/**
 * L_rec = ½ mean‖Ŷ − X_t‖², over the samples where X_s = X_t only (L′_rec of HEAR-Net is the same with Y).
 * `same` is [B] with 1 for same-image pairs. The per-sample means are averaged over the same-image samples, so the
 * loss keeps its scale whatever the batch's same-image count; with none it is 0 and gives no gradient.
 */
export function reconstructionLoss(output: tf.Tensor4D, target: tf.Tensor4D, same: tf.Tensor1D): tf.Scalar {
  if (output.shape.join() !== target.shape.join()) {
    throw new Error(`reconstructionLoss: output [${output.shape}] and target [${target.shape}] differ in shape.`);
  }
  if (same.shape[0] !== output.shape[0]) {
    throw new Error(`reconstructionLoss: 'same' has ${same.shape[0]} entries for a batch of ${output.shape[0]}.`);
  }
  return tf.tidy(() => {
    const perSample = tf.mean(tf.squaredDifference(output, target), [1, 2, 3]);
    const mask = tf.cast(same, 'float32');
    // max(·, 1) only guards the all-different batch, whose numerator is exactly 0.
    return tf.div(tf.sum(tf.mul(tf.mul(0.5, perSample), mask)), tf.maximum(tf.sum(mask), 1));
  });
}
