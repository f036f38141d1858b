import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '@faceshifter/core/node';

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
