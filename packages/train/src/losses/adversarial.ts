import * as tf from '@tensorflow/tfjs';

/**
 * Hinge adversarial losses (Lim & Ye 2017; as in SPADE and the FaceShifter reference), averaged over the
 * discriminator's scales. Each element of the arrays is one scale's patch map [B, h, w, 1].
 */

function assertScales(name: string, ...lists: tf.Tensor[][]): void {
  for (const list of lists) {
    if (list.length === 0) throw new Error(`${name}: got no discriminator outputs; pass one tensor per scale.`);
  }
  if (lists.length === 2 && lists[0]!.length !== lists[1]!.length) {
    throw new Error(`${name}: ${lists[0]!.length} real scales but ${lists[1]!.length} fake scales; they must match.`);
  }
}

/** L_adv for G: −mean(D(Ŷ)), averaged over scales. */
export function hingeGeneratorLoss(dFake: tf.Tensor[]): tf.Scalar {
  assertScales('hingeGeneratorLoss', dFake);
  return tf.tidy(() => tf.addN(dFake.map((d) => tf.neg(tf.mean(d)))).div(dFake.length));
}

/** L_adv for D: mean(relu(1 − D(X))) + mean(relu(1 + D(Ŷ))), averaged over scales. */
export function hingeDiscriminatorLoss(dReal: tf.Tensor[], dFake: tf.Tensor[]): tf.Scalar {
  assertScales('hingeDiscriminatorLoss', dReal, dFake);
  return tf.tidy(() => {
    const perScale = dReal.map((real, i) =>
      tf.add(tf.mean(tf.relu(tf.sub(1, real))), tf.mean(tf.relu(tf.add(1, dFake[i]!)))),
    );
    return tf.addN(perScale).div(dReal.length);
  });
}
