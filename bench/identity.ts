import * as tf from '@tensorflow/tfjs';
import {
  createInsightFaceEncoder,
  IDENTITY_ENCODERS,
  identityEncoderNeedsWeights,
  insightFaceKeys,
  loadIdentityEncoder,
  type IdentityEncoder,
  type IdentityEncoderName,
  type InsightFaceEncoderName,
  type SafetensorsEntry,
  type SafetensorsFile,
} from '@faceshifter/core/node';
import { medianMs, type TimingOptions } from './timing.js';
import { round } from './conv.js';

export interface IdentityResult {
  name: IdentityEncoderName;
  /** Forward pass plus the gradient w.r.t. the input (what L_id costs per image in a training step). */
  msPerImage: number;
  /** Forward pass alone (what an evaluation costs per image). */
  forwardMsPerImage: number;
}

/**
 * The InsightFace networks timed, at full size on seeded weights (users bring the real ones; the cost does not
 * depend on the values): the paper's training network and the usual evaluation network.
 */
const TIMED_INSIGHTFACE: readonly InsightFaceEncoderName[] = ['arcface-ir-se50', 'iresnet100'];

/** A full-size state_dict of seeded values of a sane scale (BatchNorm scales and variances near 1). */
function seededStateDict(name: InsightFaceEncoderName): SafetensorsFile {
  const tensors = new Map<string, SafetensorsEntry>();
  let s = 1;
  for (const k of insightFaceKeys(name)!) {
    if (k.counter) continue;
    const n = k.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const positive = /running_var$/.test(k.name) || (k.shape.length === 1 && k.name.endsWith('.weight'));
    const scale = k.shape.length > 1 ? 1 / Math.sqrt(n / k.shape[0]!) : 0.1;
    for (let i = 0; i < n; i++) {
      s = (s * 16807) % 2147483647;
      v[i] = positive ? 0.5 + s / 2147483647 : (2 * (s / 2147483647) - 1) * scale;
    }
    tensors.set(k.name, { name: k.name, dtype: 'F32', shape: k.shape, dataOffsets: [0, 4 * n], bytes: () => new Uint8Array(v.buffer), raw: () => v, toFloat32: () => v });
  }
  return { source: `seeded ${name}`, metadata: {}, tensors };
}

async function encoderFor(name: IdentityEncoderName): Promise<IdentityEncoder | null> {
  if (!identityEncoderNeedsWeights(name)) return loadIdentityEncoder(name);
  const insightface = name as InsightFaceEncoderName;
  return TIMED_INSIGHTFACE.includes(insightface) ? createInsightFaceEncoder(insightface, seededStateDict(insightface)) : null;
}

/** Per-image cost of each identity encoder on a batch of 256² aligned faces (random pixels: the cost does not depend on them). */
export async function benchIdentity(batch = 4, timing?: TimingOptions): Promise<IdentityResult[]> {
  const results: IdentityResult[] = [];
  const x = tf.randomUniform([batch, 256, 256, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
  try {
    for (const name of IDENTITY_ENCODERS) {
      const encoder = await encoderFor(name);
      if (!encoder) continue;
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
