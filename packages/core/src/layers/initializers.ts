/**
 * Seeded weight initialisers matching the PyTorch reference (design section 5), so that a model built twice with
 * the same seed has identical weights, and a weight's values do not change when an unrelated layer is added.
 */
import * as tf from '@tensorflow/tfjs';

export type Initializer = ReturnType<typeof tf.initializers.zeros>;

/**
 * A per-weight seed: 32-bit FNV-1a of `seed` and the weight's path. Hashing the path (rather than counting
 * weights) keeps every weight's initial value stable when the architecture around it changes.
 */
export function deriveSeed(seed: number, path: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}:${path}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Xavier-normal, as PyTorch's `xavier_normal_`: N(0, σ²) with σ = √(2 / (fan_in + fan_out)), where a k×k conv
 * has fan = channels·k². Not tfjs's glorotNormal: that one truncates at 2σ, which shrinks the spread by ~12%.
 */
export function xavierNormal(fanIn: number, fanOut: number, seed: number): Initializer {
  return tf.initializers.randomNormal({ mean: 0, stddev: Math.sqrt(2 / (fanIn + fanOut)), seed });
}

/** A conv or transposed-conv kernel of k×k taps between cIn and cOut channels: Xavier-normal. */
export function convKernel(kernelSize: number, cIn: number, cOut: number, seed: number): Initializer {
  const taps = kernelSize * kernelSize;
  return xavierNormal(cIn * taps, cOut * taps, seed);
}

/**
 * A conv bias: PyTorch's default U(−1/√fan_in, 1/√fan_in), which the reference keeps (it re-initialises only the
 * conv weights).
 */
export function convBias(fanIn: number, seed: number): Initializer {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed });
}

/** A fully connected weight: N(0, 0.001²) as in the reference; its bias starts at zero. */
export function linearKernel(seed: number): Initializer {
  return tf.initializers.randomNormal({ mean: 0, stddev: 0.001, seed });
}
