import * as tf from '@tensorflow/tfjs';
import type { AEINet, HEARNet, IdentityEncoder } from '@faceshifter/core/node';
import type { HEARWeights } from '../config/train_config.js';
import { changeLoss } from '../losses/change.js';
import { identityLoss } from '../losses/identity.js';
import { reconstructionLoss } from '../losses/reconstruction.js';
import type { PairBatch } from './pair_batch.js';

/** HEAR-Net's self-supervised objective (faceshifter.md §8–9), as named losses. */
export interface HEARNetworks {
  /** Frozen stage-1 network. */
  aei: AEINet;
  hearnet: HEARNet;
  identity: IdentityEncoder;
}

/** What the frozen AEI-Net gives HEAR-Net for a batch: computed once, outside the gradient tape. */
export interface HEARInputs {
  /** Ŷ_{s,t} = AEI(X_t, z_id(X_s)). */
  swap: tf.Tensor4D;
  /** ΔY_t = X_t − AEI(X_t, z_id(X_t)): where AEI-Net fails to reconstruct the target, i.e. the occlusions. */
  heuristicError: tf.Tensor4D;
  zIdSource: tf.Tensor2D;
}

export function hearInputs(nets: Pick<HEARNetworks, 'aei' | 'identity'>, batch: PairBatch): HEARInputs {
  return tf.tidy(() => {
    const zIdSource = nets.identity.embed(batch.source);
    const zIdTarget = nets.identity.embed(batch.target);
    const swap = nets.aei.forward(batch.target, zIdSource).swap;
    const selfSwap = nets.aei.forward(batch.target, zIdTarget).swap;
    return { swap, heuristicError: tf.sub(batch.target, selfSwap) as tf.Tensor4D, zIdSource };
  });
}

export interface HEARLosses {
  id: tf.Scalar;
  chg: tf.Scalar;
  rec: tf.Scalar;
  total: tf.Scalar;
  /** Y_{s,t}, the refined swap. */
  refined: tf.Tensor4D;
}

export function hearLosses(nets: HEARNetworks, batch: PairBatch, inputs: HEARInputs, w: HEARWeights): HEARLosses {
  const refined = nets.hearnet.refine(inputs.swap, inputs.heuristicError, { training: true });
  const id = identityLoss(nets.identity.embed(refined), inputs.zIdSource);
  const chg = changeLoss(refined, inputs.swap);
  const rec = reconstructionLoss(refined, batch.target, batch.same);
  const total = tf.addN([tf.mul(w.id, id), tf.mul(w.chg, chg), tf.mul(w.rec, rec)]) as tf.Scalar;
  return { id, chg, rec, total, refined };
}
