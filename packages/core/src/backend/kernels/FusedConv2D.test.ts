import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareKernel, convCases, convTensors, describeCase, useBackend, weightHeavyConvCases } from './test_utils/kernel_compare.js';

describe('FusedConv2D on wasm', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('matches the cpu backend (rel. error <= 1e-4) with bias and every fusable activation, on both paths, without leaking', async () => {
    await useBackend('cpu');
    const activations = ['linear', 'relu', 'relu6', 'leakyrelu', 'prelu', 'sigmoid', 'elu'] as const;
    const cases = [...weightHeavyConvCases(708, 9), ...convCases(709, 2)];
    for (const [i, c] of cases.entries()) {
      const activation = activations[i % activations.length]!;
      const { x, filter, dy, attrs } = convTensors(c, false);
      const bias = i % 3 === 2 ? undefined : tf.randomNormal([c.out], 0, 1, 'float32', 21);
      const prelu = activation === 'prelu' ? tf.randomUniform([c.out], 0, 0.5, 'float32', 22) : undefined;
      const inputs: Record<string, tf.Tensor> = { x, filter };
      if (bias) inputs.bias = bias;
      if (prelu) inputs.preluActivationWeights = prelu;
      const r = await compareKernel('FusedConv2D', inputs, { ...attrs, activation, leakyreluAlpha: 0.1 });
      const label = `${describeCase(c)} ${activation}${bias ? ' +bias' : ''}`;
      expect({ case: label, ok: r.error <= 1e-4 }).toEqual({ case: label, ok: true });
      expect([r.leakedTensors, r.leakedBuffers]).toEqual([0, 0]);
      tf.dispose([x, filter, dy, ...(bias ? [bias] : []), ...(prelu ? [prelu] : [])]);
    }
  });
});
