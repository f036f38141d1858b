import * as tf from '@tensorflow/tfjs';
import { afterAll, expect, it } from 'vitest';
import { selectBackend } from './select_backend.js';
import { WEBGPU_KERNELS } from './webgpu_kernels.js';
import { describeOnWebGPU, readAndDispose, relativeL2, webgpuMemory } from '../test_utils/webgpu_tests.js';

/**
 * Our webgpu Conv2DBackpropFilter (webgpu_kernels.ts: a conv of transposed x with transposed dy) against cpu, on the
 * padding cases where its pad arithmetic can go wrong: 'same' with odd sizes and stride 2 (the face-api net's 7×7
 * stem), 'valid' where the forward conv never reads the last rows (a negative bottom pad), explicit pads (the U-Net
 * encoder's 4×4/2 pad 1, the discriminator's pad 2), and 1×1.
 */
const TOLERANCE = 1e-4;

interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number;
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
}
const CASES: Record<string, Case> = {
  '7x7 stride 2 same, odd size': { x: [2, 15, 13, 3], filter: [7, 7, 3, 4], strides: 2, pad: 'same' },
  '3x3 stride 2 valid, last row unread': { x: [1, 10, 9, 2], filter: [3, 3, 2, 3], strides: 2, pad: 'valid' },
  '4x4 stride 2 pad 1': { x: [2, 8, 8, 3], filter: [4, 4, 3, 5], strides: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  '4x4 stride 1 pad 2': { x: [1, 6, 7, 2], filter: [4, 4, 2, 3], strides: 1, pad: [[0, 0], [2, 2], [2, 2], [0, 0]] },
  '3x3 stride 1 same': { x: [2, 9, 9, 4], filter: [3, 3, 4, 6], strides: 1, pad: 'same' },
  '1x1': { x: [2, 5, 5, 3], filter: [1, 1, 3, 2], strides: 1, pad: 'valid' },
};

async function filterGradients(): Promise<Float32Array[]> {
  const out: tf.Tensor[] = [];
  for (const [i, c] of Object.values(CASES).entries()) {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 10 + i) as tf.Tensor4D;
    const yShape = tf.tidy(() => tf.conv2d(x, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape);
    const dy = tf.randomNormal(yShape, 0, 1, 'float32', 20 + i);
    out.push(tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter } as never) as tf.Tensor);
    tf.dispose([x, dy]);
  }
  return readAndDispose(out);
}

describeOnWebGPU('webgpu Conv2DBackpropFilter', () => {
  afterAll(async () => {
    await selectBackend('webgpu', { log: () => {} });
  });

  it('matches cpu on every padding case, and frees its temporaries', async () => {
    await selectBackend('cpu', { log: () => {} });
    const reference = await filterGradients();
    await selectBackend('webgpu', { log: () => {} });
    expect(tf.getKernel('Conv2DBackpropFilter', 'webgpu')?.kernelFunc).toBe(WEBGPU_KERNELS[0]!.kernelFunc);
    await filterGradients();
    const before = webgpuMemory();
    const actual = await filterGradients();
    expect(webgpuMemory()).toEqual(before);
    const errors = Object.fromEntries(Object.keys(CASES).map((name, i) => [name, relativeL2(actual[i]!, reference[i]!)]));
    const failures = Object.entries(errors).filter(([, e]) => !(e <= TOLERANCE));
    expect(failures).toEqual([]);
  });
});
