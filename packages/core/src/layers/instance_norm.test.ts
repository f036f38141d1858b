import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectBitIdentical, saveAndLoad, seededInput } from '../test_utils/layers_round_trip.js';
import { InstanceNorm, instanceNormalize, spatialMean } from './instance_norm.js';

describe('InstanceNorm', () => {
  it('normalises each sample and channel over H×W with the biased variance and ε = 1e-5', async () => {
    // Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased variance 1.25); channel 1 holds 10·that, so both normalise alike.
    const x = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
    const y = new InstanceNorm().apply(x) as tf.Tensor;
    const expected0 = [1, 2, 3, 4].map((v) => (v - 2.5) / Math.sqrt(1.25 + 1e-5));
    const expected1 = [10, 20, 30, 40].map((v) => (v - 25) / Math.sqrt(125 + 1e-5));
    const values = Array.from(await y.data());
    values.forEach((v, i) => expect(v).toBeCloseTo((i % 2 === 0 ? expected0 : expected1)[Math.floor(i / 2)]!, 5));
    tf.dispose([x, y]);
  });

  it('has no weights by default and γ, β with affine', () => {
    const plain = new InstanceNorm();
    const affine = new InstanceNorm({ affine: true });
    const input = tf.input({ shape: [4, 4, 3] });
    plain.apply(input);
    affine.apply(input);
    expect(plain.countParams()).toBe(0);
    expect(affine.weights.map((w) => w.shape)).toEqual([[3], [3]]);
  });

  it('round-trips through model.save / tf.loadLayersModel', async () => {
    const input = tf.input({ shape: [6, 6, 3] });
    const out = new InstanceNorm({ affine: true, epsilon: 1e-3, name: 'in' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    const { loaded } = await saveAndLoad(model);
    const layer = loaded.getLayer('in') as InstanceNorm;
    expect([layer.epsilon, layer.affine]).toEqual([1e-3, true]);
    const x = seededInput([2, 6, 6, 3], 1);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    await expectBitIdentical(a, b);
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
  });

  it('computes the spatial mean and its gradient as tf.mean over [1, 2] does', async () => {
    const x = seededInput([2, 5, 3, 4], 7) as tf.Tensor4D;
    const dy = seededInput([2, 1, 1, 4], 8);
    const [ours, reference] = tf.tidy(() => [spatialMean(x), tf.mean(x, [1, 2], true)]);
    const [gOurs, gReference] = tf.tidy(() => [
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(spatialMean(t as tf.Tensor4D), dy)))(x),
      tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, [1, 2], true), dy)))(x),
    ]);
    expect(ours!.shape).toEqual([2, 1, 1, 4]);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(ours!, reference!))).arraySync())).toBeLessThan(1e-6);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(gOurs!, gReference!))).arraySync())).toBeLessThan(1e-6);
    // And the whole normalisation differentiates like the textbook formula built from tf.moments.
    const textbook = (t: tf.Tensor4D): tf.Tensor => {
      const { mean, variance } = tf.moments(t, [1, 2], true);
      return tf.mul(tf.sub(t, mean), tf.rsqrt(tf.add(variance, 1e-5)));
    };
    const w = seededInput([2, 5, 3, 4], 9);
    const diff = tf.tidy(() => {
      const a = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(instanceNormalize(t as tf.Tensor4D, 1e-5), w)))(x);
      const b = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(textbook(t as tf.Tensor4D), w)))(x);
      return tf.max(tf.abs(tf.sub(a, b))).arraySync();
    });
    expect(diff).toBeLessThan(1e-4);
    tf.dispose([x, dy, w, ours!, reference!, gOurs!, gReference!]);
  });
});
