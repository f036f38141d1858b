import * as tf from '@tensorflow/tfjs';
import { AvgPoolExcludePad } from '../../layers/avg_pool_exclude_pad.js';
import { instanceNormalize, spatialMean } from '../../layers/instance_norm.js';

/*
 * Every op the FaceShifter networks, losses, trainers and frozen identity encoders differentiate through, each with
 * seeded inputs. The backend audits (gradient_audit.test.ts for wasm, webgpu_audit.webgpu.test.ts for webgpu)
 * compare their outputs and gradients with the cpu backend's.
 */

export type Op = (args: tf.Tensor[]) => tf.Tensor;

export const rand = (shape: number[], seed: number, offset = 0): tf.Tensor => tf.tidy(() => tf.add(tf.randomNormal(shape, 0, 1, 'float32', seed), offset));

/** [inputs to differentiate with respect to, op]; the image input is odd-sized and non-square wherever the op allows. */
export function auditedOps(): Record<string, [tf.Tensor[], Op]> {
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
    // The project's own composite layers and the remaining ops of the losses, trainers and identity graphs.
    'instance norm (spatialMean custom gradient, rsqrt)': [[x()], ([a]) => instanceNormalize(asX(a!), 1e-5)],
    'spatialMean (full-window avgPool)': [[x()], ([a]) => spatialMean(asX(a!))],
    'AvgPoolExcludePad 3x3/2 pad 1 (discriminator downsample)': [[x()], ([a]) => new AvgPoolExcludePad({ poolSize: 3, strides: 2, padding: 1 }).apply(a!) as tf.Tensor],
    'squaredDifference + addN (L_att, L_rec)': [[x(), rand([2, 9, 7, 6], 40)], ([a, b]) => tf.addN([tf.squaredDifference(a!, b!), tf.mul(a!, 0.5), b!])],
    'euclidean norm + cosine (L_id)': [
      [rand([4, 16], 41), rand([4, 16], 42)],
      ([a, b]) => tf.sub(1, tf.div(tf.sum(tf.mul(a!, b!), -1), tf.mul(tf.norm(a!, 'euclidean', -1), tf.norm(b!, 'euclidean', -1)))),
    ],
    'maximum/minimum, relu6 (faceres graph)': [[x(), rand([2, 9, 7, 6], 43)], ([a, b]) => tf.add(tf.minimum(tf.maximum(a!, b!), 0.7), tf.relu6(tf.mul(a!, 4)))],
    'hinge: relu(1 - d), relu(1 + d)': [[x()], ([a]) => tf.add(tf.relu(tf.sub(1, a!)), tf.relu(tf.add(1, a!)))],
    'sqrt, pow, neg (Adam, normalisations)': [[rand([2, 9, 7, 6], 44, 4)], ([a]) => tf.add(tf.sqrt(tf.abs(a!)), tf.neg(tf.pow(a!, 2)))],
    'transpose + reverse + tile': [[x()], ([a]) => tf.tile(tf.reverse(tf.transpose(a!, [0, 2, 1, 3]), 2), [1, 1, 2, 1])],
    'split + stack + squeeze + expandDims': [
      [x()],
      ([a]) => {
        const [p, q] = tf.split(a!, [2, 4], 3);
        return tf.concat([tf.squeeze(tf.stack([p!]), [0]), tf.expandDims(tf.sum(q!, 3), 3)], 3);
      },
    ],
  };
}

/** Output and gradients of sum(op(args) * w) for a fixed random w, on the current backend. */
export function outputAndGrads(op: Op, args: tf.Tensor[]): { values: Float32Array[]; count: number } {
  const result = outputAndGradTensors(op, args);
  const values = result.map((t) => t.dataSync() as Float32Array);
  tf.dispose(result);
  return { values, count: values.length };
}

/** The output of `op` and the gradients of sum(op(args) * w) for a fixed random w, as tensors (for async reads). */
export function outputAndGradTensors(op: Op, args: tf.Tensor[]): tf.Tensor[] {
  return tf.tidy(() => {
    const y = op(args);
    const w = tf.randomNormal(y.shape, 0, 1, 'float32', 99);
    return [y, ...tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(op(a), w)))(args)];
  });
}
