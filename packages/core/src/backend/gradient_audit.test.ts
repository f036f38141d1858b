import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { relativeError, useBackend, wasmMemoryCounts } from './kernels/test_utils/kernel_compare.js';

/**
 * Every op the FaceShifter networks, losses and frozen identity encoders differentiate through, run under tf.grad on
 * wasm (with the training kernels registered) and on cpu, the reference: outputs and the gradients of every input
 * must agree to a relative error of 1e-4 (max |a - b| / max |b|), and wasm must not leak tensors or buffers.
 */
type Op = (args: tf.Tensor[]) => tf.Tensor;

const rand = (shape: number[], seed: number, offset = 0): tf.Tensor => tf.tidy(() => tf.add(tf.randomNormal(shape, 0, 1, 'float32', seed), offset));

/** [inputs to differentiate with respect to, op]; the image input is odd-sized and non-square wherever the op allows. */
function auditedOps(): Record<string, [tf.Tensor[], Op]> {
  const x = (): tf.Tensor => rand([2, 9, 7, 6], 1);
  const asX = (t: tf.Tensor): tf.Tensor4D => t as tf.Tensor4D;
  return {
    conv2d: [[x(), rand([3, 3, 6, 5], 2)], ([a, w]) => tf.conv2d(asX(a!), asX(w!), 1, 'same')],
    'conv2d 4x4 stride 2 pad 1': [[x(), rand([4, 4, 6, 5], 3)], ([a, w]) => tf.conv2d(asX(a!), asX(w!), 2, [[0, 0], [1, 1], [1, 1], [0, 0]])],
    'conv2d 4x4 pad 2 (discriminator)': [[x(), rand([4, 4, 6, 3], 4)], ([a, w]) => tf.conv2d(asX(a!), asX(w!), 1, [[0, 0], [2, 2], [2, 2], [0, 0]])],
    'fused conv2d + bias + relu (tf.layers.conv2d)': [
      [x(), rand([3, 3, 6, 5], 5), rand([5], 6)],
      ([a, w, b]) => tf.fused.conv2d({ x: asX(a!), filter: asX(w!), strides: 1, pad: 'same', bias: b!, activation: 'relu' }),
    ],
    'fused conv2d + bias, stride 2': [
      [x(), rand([3, 3, 6, 5], 7), rand([5], 8)],
      ([a, w, b]) => tf.fused.conv2d({ x: asX(a!), filter: asX(w!), strides: 2, pad: 'same', bias: b! }),
    ],
    'conv2dTranspose 4x4 stride 2 pad 1 (U-Net up)': [
      [rand([2, 5, 4, 6], 9), rand([4, 4, 3, 6], 10)],
      ([a, w]) => tf.conv2dTranspose(asX(a!), asX(w!), [2, 10, 8, 3], 2, 1),
    ],
    // Weight-heavy layers (fewer pixels than channels, as in the generator's 1024-channel blocks) take the GEMM paths.
    'conv2d 3x3, weight-heavy (2x2 x 8 -> 40)': [[rand([2, 2, 2, 8], 27), rand([3, 3, 8, 40], 28)], ([a, w]) => tf.conv2d(asX(a!), asX(w!), 1, 'same')],
    'fused conv2d 1x1 + bias + leakyrelu, weight-heavy': [
      [rand([1, 3, 3, 16], 29), rand([1, 1, 16, 24], 30), rand([24], 31)],
      ([a, w, b]) => tf.fused.conv2d({ x: asX(a!), filter: asX(w!), strides: 1, pad: 'valid', bias: b!, activation: 'leakyrelu', leakyreluAlpha: 0.1 }),
    ],
    'conv2dTranspose 4x4 stride 2 pad 1, weight-heavy (2x2 x 32 -> 4x4 x 16)': [
      [rand([2, 2, 2, 32], 32), rand([4, 4, 16, 32], 33)],
      ([a, w]) => tf.conv2dTranspose(asX(a!), asX(w!), [2, 4, 4, 16], 2, 1),
    ],
    depthwiseConv2d: [[x(), rand([3, 3, 6, 2], 11)], ([a, w]) => tf.depthwiseConv2d(asX(a!), asX(w!), 2, 'same')],
    'fused depthwiseConv2d + bias + relu (identity graph models)': [
      [x(), rand([3, 3, 6, 1], 12), rand([6], 13)],
      ([a, w, b]) => tf.fused.depthwiseConv2d({ x: asX(a!), filter: asX(w!), strides: 1, pad: 'same', bias: b!, activation: 'relu' }),
    ],
    separableConv2d: [
      [x(), rand([3, 3, 6, 2], 14), rand([1, 1, 12, 5], 15)],
      ([a, d, p]) => tf.separableConv2d(asX(a!), asX(d!), asX(p!), 1, 'same'),
    ],
    leakyRelu: [[x()], ([a]) => tf.leakyRelu(a!, 0.2)],
    relu: [[x()], ([a]) => tf.relu(a!)],
    sigmoid: [[x()], ([a]) => tf.sigmoid(a!)],
    tanh: [[x()], ([a]) => tf.tanh(a!)],
    'moments (instance norm over H, W)': [
      [x()],
      ([a]) => {
        const { mean, variance } = tf.moments(a!, [1, 2], true);
        return tf.div(tf.sub(a!, mean), tf.sqrt(tf.add(variance, 1e-5)));
      },
    ],
    batchNorm: [
      [x(), rand([6], 16), rand([6], 17)],
      ([a, offset, scale]) => {
        const { mean, variance } = tf.moments(a!, [0, 1, 2]);
        return tf.batchNorm(a!, mean, variance, offset!, scale!, 1e-3);
      },
    ],
    // Square: the cpu backend's ResizeBilinearGrad labels its result [b, w, h, c] (see the kernel-level check below).
    'resizeBilinear x2 alignCorners': [[rand([2, 7, 7, 6], 18)], ([a]) => tf.image.resizeBilinear(asX(a!), [14, 14], true)],
    'avgPool 3x3/2 pad 1, padding excluded (pad + valid pool / pooled ones)': [
      [x()],
      ([a]) => {
        const pad: Array<[number, number]> = [[0, 0], [1, 1], [1, 1], [0, 0]];
        const sums = tf.avgPool(asX(tf.pad(a!, pad)), 3, 2, 'valid');
        const counts = tf.avgPool(asX(tf.pad(tf.onesLike(a!), pad)), 3, 2, 'valid');
        return tf.div(sums, counts);
      },
    ],
    'concat + slice': [[x(), rand([2, 9, 7, 3], 19)], ([a, b]) => tf.slice(tf.concat([a!, b!], 3), [0, 1, 1, 2], [2, 6, 5, 6])],
    'mean + sum': [[x()], ([a]) => tf.add(tf.mean(a!, [1, 2], true), tf.sum(a!, 3, true))],
    matMul: [[rand([12, 6], 20), rand([6, 4], 21)], ([a, b]) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)],
    'fused matMul + bias + relu (tf.layers.dense)': [
      [rand([12, 6], 22), rand([6, 4], 23), rand([4], 24)],
      ([a, b, bias]) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: bias!, activation: 'relu' }),
    ],
    square: [[x()], ([a]) => tf.square(a!)],
    abs: [[x()], ([a]) => tf.abs(a!)],
    'l2-normalize (identity embeddings)': [[rand([4, 16], 25)], ([a]) => tf.div(a!, tf.sqrt(tf.add(tf.sum(tf.square(a!), -1, true), 1e-10)))],
    // Shifted negative: the stock wasm MaxPoolGrad routes all-negative windows to element 0.
    maxPool: [[rand([2, 9, 7, 6], 26, -2)], ([a]) => tf.maxPool(asX(a!), 3, 2, 'same')],
  };
}

/** Output and gradients of sum(op(args) * w) for a fixed random w, on the current backend. */
function outputAndGrads(op: Op, args: tf.Tensor[]): { values: Float32Array[]; count: number } {
  const result = tf.tidy(() => {
    const y = op(args);
    const w = tf.randomNormal(y.shape, 0, 1, 'float32', 99);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(op(a), w)))(args);
    return [y, ...grads];
  });
  const values = result.map((t) => t.dataSync() as Float32Array);
  tf.dispose(result);
  return { values, count: values.length };
}

describe('gradient audit on wasm', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('computes every op and its gradients as the cpu backend does, without leaking', async () => {
    await useBackend('cpu');
    const ops = auditedOps();
    const report: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const [name, [args, op]] of Object.entries(ops)) {
      await useBackend('cpu');
      const reference = outputAndGrads(op, args);
      await useBackend('wasm');
      outputAndGrads(op, args); // moves the inputs to wasm, so the count below sees only what the op leaves
      const before = wasmMemoryCounts();
      const actual = outputAndGrads(op, args);
      const after = wasmMemoryCounts();
      const worst = Math.max(...actual.values.map((v, i) => relativeError(v, reference.values[i]!)));
      const leaks = after.tensors - before.tensors + (after.buffers - before.buffers);
      report[name] = `${actual.count === reference.count && worst <= 1e-4 ? 'ok' : `rel. error ${worst}`}, leaked ${leaks}`;
      expected[name] = 'ok, leaked 0';
      tf.dispose(args);
    }
    expect(report).toEqual(expected);
  });

  it('ResizeBilinearGrad agrees with cpu on non-square images (values; cpu mislabels the shape)', async () => {
    const images = rand([2, 9, 7, 3], 30);
    const dy = rand([2, 17, 13, 3], 31);
    const run = async (backend: 'cpu' | 'wasm'): Promise<Float32Array> => {
      await useBackend(backend);
      const g = tf.engine().runKernel('ResizeBilinearGrad', { images, dy }, { alignCorners: true }) as tf.Tensor;
      const v = (await g.data()) as Float32Array;
      g.dispose();
      return v;
    };
    expect(relativeError(await run('wasm'), await run('cpu'))).toBeLessThanOrEqual(1e-4);
    tf.dispose([images, dy]);
  });
});
