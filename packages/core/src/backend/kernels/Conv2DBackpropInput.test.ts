import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareKernel, convCases, convTensors, describeCase, useBackend, weightHeavyConvCases } from './test_utils/kernel_compare.js';

describe('Conv2DBackpropInput on wasm', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('matches the cpu backend (rel. error <= 1e-4) for every padding, stride 1/2, filters 1..4, odd and non-square shapes, without leaking', async () => {
    await useBackend('cpu');
    for (const c of convCases(101, 28)) {
      const { x, filter, dy, attrs } = convTensors(c, false);
      const r = await compareKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: c.x });
      expect({ case: describeCase(c), ok: r.error <= 1e-4 }).toEqual({ case: describeCase(c), ok: true });
      expect(r.shape).toEqual(c.x);
      expect([r.leakedTensors, r.leakedBuffers]).toEqual([0, 0]);
      tf.dispose([x, filter, dy]);
    }
  });

  it('matches the cpu backend on weight-heavy geometries, which take the GEMM + col2im path, without leaking', async () => {
    await useBackend('cpu');
    for (const c of weightHeavyConvCases(102, 12)) {
      const { x, filter, dy, attrs } = convTensors(c, false);
      const r = await compareKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: c.x });
      expect({ case: describeCase(c), ok: r.error <= 1e-4 }).toEqual({ case: describeCase(c), ok: true });
      expect(r.shape).toEqual(c.x);
      expect([r.leakedTensors, r.leakedBuffers]).toEqual([0, 0]);
      tf.dispose([x, filter, dy]);
    }
  });

  it('runs the forward pass of conv2dTranspose (U-Net up block: 4x4, stride 2, pad 1) as on cpu', async () => {
    const compute = async (backend: 'cpu' | 'wasm'): Promise<Float32Array> => {
      await useBackend(backend);
      const z = tf.randomNormal<tf.Rank.R4>([2, 5, 3, 6], 0, 1, 'float32', 1);
      const w = tf.randomNormal<tf.Rank.R4>([4, 4, 4, 6], 0, 1, 'float32', 2);
      const y = tf.conv2dTranspose(z, w, [2, 10, 6, 4], 2, 1);
      const data = (await y.data()) as Float32Array;
      tf.dispose([z, w, y]);
      return data;
    };
    const reference = await compute('cpu');
    const actual = await compute('wasm');
    let err = 0;
    let scale = 0;
    for (let i = 0; i < reference.length; i++) {
      err = Math.max(err, Math.abs(actual[i]! - reference[i]!));
      scale = Math.max(scale, Math.abs(reference[i]!));
    }
    expect(err / scale).toBeLessThanOrEqual(1e-4);
  });

  it('rejects NCHW with a message naming the fix', async () => {
    await useBackend('wasm');
    const dy = tf.zeros([1, 2, 4, 4]);
    const filter = tf.zeros([3, 3, 2, 2]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides: 1, pad: 'same', dataFormat: 'NCHW', inputShape: [1, 2, 4, 4] }),
    ).toThrow(/NHWC/);
    tf.dispose([dy, filter]);
  });
});
