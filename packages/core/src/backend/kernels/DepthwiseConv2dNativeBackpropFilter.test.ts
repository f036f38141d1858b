import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareKernel, convCases, convTensors, describeCase, useBackend } from './test_utils/kernel_compare.js';

describe('DepthwiseConv2dNativeBackpropFilter on wasm', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('matches the cpu backend (rel. error <= 1e-4) for channel multipliers 1..3, every padding, stride 1/2, filters 1..4, without leaking', async () => {
    await useBackend('cpu');
    for (const c of convCases(404, 24, 3)) {
      const { x, filter, dy, attrs } = convTensors(c, true);
      const r = await compareKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: filter.shape });
      expect({ case: describeCase(c), ok: r.error <= 1e-4 }).toEqual({ case: describeCase(c), ok: true });
      expect(r.shape).toEqual(filter.shape);
      expect([r.leakedTensors, r.leakedBuffers]).toEqual([0, 0]);
      tf.dispose([x, filter, dy]);
    }
  });
});
