import * as tf from '@tensorflow/tfjs';

/**
 * L_chg = mean|Ŷ_{s,t} − Y_{s,t}| (L1): keeps HEAR-Net's refinement Y close to AEI-Net's swap Ŷ, so that it only
 * changes what the heuristic error points at (occlusions), not the identity or the attributes.
 */
export function changeLoss(refined: tf.Tensor4D, swap: tf.Tensor4D): tf.Scalar {
  if (refined.shape.join() !== swap.shape.join()) {
    throw new Error(`changeLoss: refined [${refined.shape}] and swap [${swap.shape}] differ in shape.`);
  }
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(refined, swap))));
}
