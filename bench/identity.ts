import * as tf from '@tensorflow/tfjs';
import { IDENTITY_ENCODERS, loadIdentityEncoder, type IdentityEncoderName } from '@faceshifter/core';
import { medianMs, type TimingOptions } from './timing.js';
import { round } from './conv.js';

export interface IdentityResult {
  name: IdentityEncoderName;
  /** Forward pass plus the gradient w.r.t. the input (what L_id costs per image in a training step). */
  msPerImage: number;
  /** Forward pass alone (what an evaluation costs per image). */
  forwardMsPerImage: number;
}

/** Per-image cost of each identity encoder on a batch of 256² aligned faces (random pixels: the cost does not depend on them). */
export async function benchIdentity(batch = 4, timing?: TimingOptions): Promise<IdentityResult[]> {
  const results: IdentityResult[] = [];
  const x = tf.randomUniform([batch, 256, 256, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
  try {
    for (const name of IDENTITY_ENCODERS) {
      const encoder = await loadIdentityEncoder(name);
      try {
        const target = tf.randomNormal([batch, encoder.dim], 0, 1, 'float32', 2);
        const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(encoder.embed(input as tf.Tensor4D), target)));
        const both = await medianMs(() => grad(x), { warmup: 1, runs: 3, ...timing });
        const fwd = await medianMs(() => encoder.embed(x), { warmup: 1, runs: 3, ...timing });
        results.push({ name, msPerImage: round(both / batch, 1), forwardMsPerImage: round(fwd / batch, 1) });
        target.dispose();
      } finally {
        encoder.dispose();
      }
    }
  } finally {
    x.dispose();
  }
  return results;
}
