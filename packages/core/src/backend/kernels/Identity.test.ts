import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { useBackend } from './test_utils/kernel_compare.js';

describe('Identity on wasm', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('shares the data instead of copying it; each tensor frees its reference; values, dtypes and strings are kept', async () => {
    await useBackend('wasm');
    const before = tf.memory();
    const buffers = (): number => tf.engine().backend.numDataIds();
    const buffersBefore = buffers();
    const x = tf.tensor2d([[1, -2], [3.5, 4]]);
    const y = tf.clone(x);
    // One backend buffer for both tensors: the clone allocates and copies nothing.
    expect(y.dataId).toBe(x.dataId);
    expect(buffers() - buffersBefore).toBe(1);
    expect(tf.memory().numTensors - before.numTensors).toBe(2);
    x.dispose();
    expect(buffers() - buffersBefore).toBe(1);
    expect(await y.array()).toEqual([[1, -2], [3.5, 4]]);
    y.dispose();
    expect(buffers()).toBe(buffersBefore);
    const ints = tf.tensor1d([7, 8], 'int32');
    const bools = tf.tensor1d([true, false], 'bool');
    const strings = tf.tensor1d(['a', 'b'], 'string');
    const [ci, cb, cs] = [tf.clone(ints), tf.clone(bools), tf.clone(strings)];
    expect([ci.dtype, cb.dtype, cs.dtype]).toEqual(['int32', 'bool', 'string']);
    expect([await ci.data(), await cb.data(), await cs.data()]).toEqual([new Int32Array([7, 8]), new Uint8Array([1, 0]), ['a', 'b']]);
    tf.dispose([ints, bools, strings, ci, cb, cs]);
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });

  it('gradients through saved tensors equal cpu (the engine clones what it saves for backprop)', async () => {
    const grad = async (backend: 'cpu' | 'wasm'): Promise<number[]> => {
      await useBackend(backend);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(tf.mul(v, v)), tf.exp(v))))(tf.tensor1d([0.5, -1, 2, 0]));
      const out = Array.from(await g.data());
      g.dispose();
      return out;
    };
    const cpu = await grad('cpu');
    const wasm = await grad('wasm');
    wasm.forEach((v, i) => expect(v).toBeCloseTo(cpu[i]!, 5));
  });
});
