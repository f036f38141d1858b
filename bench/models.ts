/**
 * Model-level speed figures: one AEI-Net forward pass at the paper preset. The reference point is PyTorch on one
 * core of these machines: 1.3 s for the same pass.
 */
import * as tf from '@tensorflow/tfjs';
import { AEINet, resolveModelConfig } from '@faceshifter/core/node';
import { medianMs, type TimingOptions } from './timing.js';

export interface AeiForwardResult {
  /** Encoder + generator, batch 1, 256², c_id 128 (face-api identity), inference mode. */
  ms: number;
  /** The attribute encoder alone (its up path is transposed convs, i.e. the Conv2DBackpropInput kernel). */
  encoderMs: number;
  /** The AAD generator alone, fed the encoder's z_att. */
  generatorMs: number;
}

/** Median ms of one AEI-Net forward pass at the paper preset (256², batch 1, c_id 128), and its two halves. */
export async function benchAeiForward256(timing: TimingOptions = { warmup: 2, runs: 3 }): Promise<AeiForwardResult> {
  const aei = new AEINet(resolveModelConfig({ preset: 'paper', cId: 128 }), { seed: 0 });
  const xt = tf.randomUniform([1, 256, 256, 3], -1, 1, 'float32', 1);
  const zId = tf.tidy(() => {
    const z = tf.randomNormal([1, 128], 0, 1, 'float32', 2);
    return tf.div(z, tf.norm(z));
  });
  const attributes = tf.tidy(() => aei.encoder.predict(xt) as tf.Tensor[]);
  try {
    const ms = await medianMs(() => aei.predict([xt, zId]) as tf.Tensor[], timing);
    const encoderMs = await medianMs(() => aei.encoder.predict(xt) as tf.Tensor[], timing);
    const generatorMs = await medianMs(() => aei.generator.predict([zId, ...attributes]) as tf.Tensor, timing);
    return { ms: round(ms), encoderMs: round(encoderMs), generatorMs: round(generatorMs) };
  } finally {
    tf.dispose([xt, zId, ...attributes]);
    aei.dispose();
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
