import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareKernel, convCases, convTensors, describeCase, useBackend, weightHeavyConvCases } from './test_utils/kernel_compare.js';

describe('Conv2D on wasm', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('matches the cpu backend (rel. error <= 1e-4) on the GEMM path (weight-heavy) and the XNNPACK conv path, without leaking', async () => {
    await useBackend('cpu');
    for (const c of [...weightHeavyConvCases(606, 16), ...convCases(607, 8)]) {
      const { x, filter, dy, attrs } = convTensors(c, false);
      const r = await compareKernel('Conv2D', { x, filter }, attrs);
      expect({ case: describeCase(c), ok: r.error <= 1e-4 }).toEqual({ case: describeCase(c), ok: true });
      expect(r.shape).toEqual(dy.shape);
      expect([r.leakedTensors, r.leakedBuffers]).toEqual([0, 0]);
      tf.dispose([x, filter, dy]);
    }
  });
});
