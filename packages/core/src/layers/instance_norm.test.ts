import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectBitIdentical, saveAndLoad, seededInput } from '../test_utils/layers_round_trip.js';
import { InstanceNorm } from './instance_norm.js';

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
});
