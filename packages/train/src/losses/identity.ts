import * as tf from '@tensorflow/tfjs';

/**
 * L_id = 1 − cos(z_id(Ŷ), z_id(X_s)), averaged over the batch. Used as L_id for AEI-Net and as L′_id for HEAR-Net.
 * Both inputs are [B, c_id]. They are re-normalised here, so the loss is a true cosine even for raw embeddings.
 */
export function identityLoss(zSwap: tf.Tensor2D, zSource: tf.Tensor2D): tf.Scalar {
  if (zSwap.shape.join() !== zSource.shape.join()) {
    throw new Error(`identityLoss: embeddings differ in shape, [${zSwap.shape}] vs [${zSource.shape}].`);
  }
  return tf.tidy(() => {
    const cos = tf.sum(tf.mul(l2Normalize(zSwap), l2Normalize(zSource)), -1);
    return tf.mean(tf.sub(1, cos));
  });
}

function l2Normalize(z: tf.Tensor2D): tf.Tensor2D {
  // The epsilon keeps the gradient finite for an all-zero embedding.
  return tf.div(z, tf.sqrt(tf.add(tf.sum(tf.square(z), -1, true), 1e-12)));
}
