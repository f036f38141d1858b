/** Test helpers for the weights tests: seeded weights of a sane scale, bit-exact comparisons. */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { namedWeights } from '../../models/named_weights.js';

/**
 * Overwrites every weight of `model` (BatchNorm moving statistics included) with seeded values of a scale that
 * keeps activations O(1) through deep stacks: kernels U(±1/√fan_in), biases and means U(±0.1), BatchNorm γ and
 * moving variances U(0.5, 1.5). Differs from the initialisers on purpose: fc weights are not near zero and
 * moving statistics are not 0/1, so a wrongly mapped tensor changes the outputs.
 */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  namedWeights(model).forEach((w, i) => {
    const leaf = w.name.split('/').pop()!;
    const fanIn = w.kind === 'dense' ? w.shape[0]! : w.kind === 'vector' ? 0 : w.shape[0]! * w.shape[1]! * w.shape[2]!;
    let lo: number;
    let hi: number;
    if (leaf === 'gamma' || leaf === 'moving_variance') [lo, hi] = [0.5, 1.5];
    else if (fanIn > 0) [lo, hi] = [-1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)];
    else [lo, hi] = [-0.1, 0.1];
    // conv2dTranspose kernels are [kh, kw, out, in]: their fan-in is kh·kw·in, not kh·kw·out.
    if (w.kind === 'conv2dTranspose') {
      const f = w.shape[0]! * w.shape[1]! * w.shape[3]!;
      [lo, hi] = [-1 / Math.sqrt(f), 1 / Math.sqrt(f)];
    }
    const t = tf.randomUniform(w.shape, lo, hi, 'float32', seed * 100_003 + i);
    w.variable.write(t);
    t.dispose();
  });
}

/** Asserts tensors are bit-identical (shape and every float's bits). */
export function expectSameBits(actual: tf.Tensor | tf.Tensor[], expected: tf.Tensor | tf.Tensor[], what = 'output'): void {
  const as = Array.isArray(actual) ? actual : [actual];
  const es = Array.isArray(expected) ? expected : [expected];
  expect(as.length).toBe(es.length);
  as.forEach((a, i) => {
    expect(a.shape).toEqual(es[i]!.shape);
    const x = new Uint32Array(Float32Array.from(a.dataSync() as Float32Array).buffer);
    const y = new Uint32Array(Float32Array.from(es[i]!.dataSync() as Float32Array).buffer);
    let differing = 0;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) differing++;
    expect(differing, `${what} ${i}: ${differing} of ${x.length} values differ`).toBe(0);
  });
}

/** Largest |a − b| over tensors of equal shape. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Every weight's values by name, copied (for comparing before/after). */
export function weightValues(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(namedWeights(model).map((w) => [w.name, Float32Array.from(w.variable.read().dataSync() as Float32Array)]));
}
