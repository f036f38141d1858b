import * as tf from '@tensorflow/tfjs';
import type { AEINet, IdentityEncoder, MultiscaleDiscriminator } from '@faceshifter/core/node';
import { hingeDiscriminatorLoss, hingeGeneratorLoss } from '../losses/adversarial.js';
import { attributeLoss } from '../losses/attribute.js';
import { identityLoss } from '../losses/identity.js';
import { reconstructionLoss } from '../losses/reconstruction.js';
import type { AEIWeights } from '../config/train_config.js';
import type { PairBatch } from './pair_batch.js';

/**
 * AEI-Net's training objective (faceshifter.md §9), as functions from a batch to named losses: the "model" tier
 * between the networks and the trainer, as in SPADE's pix2pix_model. The trainer only sums, differentiates and steps.
 */
export interface AEINetworks {
  aei: AEINet;
  discriminator: MultiscaleDiscriminator;
  /** Frozen; differentiable w.r.t. its input. */
  identity: IdentityEncoder;
}

export interface GeneratorLosses {
  adv: tf.Scalar;
  id: tf.Scalar;
  att: tf.Scalar;
  rec: tf.Scalar;
  /** L_adv + λ_att·L_att + λ_id·L_id + λ_rec·L_rec. */
  total: tf.Scalar;
  /** Ŷ_{s,t}, for the discriminator step and the sample grid. */
  swap: tf.Tensor4D;
}

/**
 * G's losses. `zIdSource` = z_id(X_s) is computed by the caller outside the gradient tape: the identity target is a
 * constant, only z_id(Ŷ) carries gradient back into the generator.
 */
export function generatorLosses(nets: AEINetworks, batch: PairBatch, zIdSource: tf.Tensor2D, w: AEIWeights): GeneratorLosses {
  const { swap, attributes: zAttTarget } = nets.aei.forward(batch.target, zIdSource, { training: true });
  const zAttSwap = nets.aei.encoder.attributes(swap, { training: true });
  const adv = hingeGeneratorLoss(nets.discriminator.judge(swap, { training: true }));
  const id = identityLoss(nets.identity.embed(swap), zIdSource);
  const att = attributeLoss(zAttSwap, zAttTarget);
  const rec = reconstructionLoss(swap, batch.target, batch.same);
  const total = tf.addN([tf.mul(w.adv, adv), tf.mul(w.att, att), tf.mul(w.id, id), tf.mul(w.rec, rec)]) as tf.Scalar;
  return { adv, id, att, rec, total, swap };
}

/** D's hinge loss on real images and (constant) swaps. */
export function discriminatorLoss(nets: Pick<AEINetworks, 'discriminator'>, real: tf.Tensor4D, swap: tf.Tensor4D): tf.Scalar {
  const d = nets.discriminator;
  return hingeDiscriminatorLoss(d.judge(real, { training: true }), d.judge(swap, { training: true }));
}
