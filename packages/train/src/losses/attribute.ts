import * as tf from '@tensorflow/tfjs';

/**
 * L_att = ½ Σ_k mean‖z_att^k(Ŷ) − z_att^k(X_t)‖², over the attribute levels k the encoder returns
 * (8 at 256²). Pushes the swap to keep the target's multi-level attributes (pose, expression, lighting, background).
 */
export function attributeLoss(zAttSwap: tf.Tensor[], zAttTarget: tf.Tensor[]): tf.Scalar {
  if (zAttSwap.length === 0 || zAttSwap.length !== zAttTarget.length) {
    throw new Error(`attributeLoss: got ${zAttSwap.length} swap levels and ${zAttTarget.length} target levels; they must match and be non-empty.`);
  }
  return tf.tidy(() => {
    const levels = zAttSwap.map((a, k) => {
      const b = zAttTarget[k]!;
      if (a.shape.join() !== b.shape.join()) {
        throw new Error(`attributeLoss: level ${k + 1} differs in shape, [${a.shape}] vs [${b.shape}].`);
      }
      return tf.mean(tf.squaredDifference(a, b));
    });
    return tf.mul(0.5, tf.addN(levels));
  });
}
