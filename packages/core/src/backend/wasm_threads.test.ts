import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseThreads, selectBackend } from './select_backend.js';

/** A conv forward and both of its gradients (our Conv2DBackpropInput/Filter kernels on wasm), read back as arrays. */
async function convAndGradients(): Promise<Float32Array[]> {
  const x = tf.randomNormal([2, 24, 24, 16], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 16, 32], 0, 0.2, 'float32', 2) as tf.Tensor4D;
  const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
  const y = tf.conv2d(x, w, 1, 'same');
  const [dx, dw] = tf.grads(f)([x, w]);
  const out = await Promise.all([y, dx!, dw!].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([x, w, y, dx!, dw!]);
  return out;
}

describe('wasm threads', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await selectBackend(initial as 'wasm' | 'cpu', { log: () => {}, ...(initial === 'wasm' ? { threads: 1 } : {}) });
  });

  it('runs on the thread count asked for, says so in its one log line, and computes what one thread does', async () => {
    const results = new Map<number, Float32Array[]>();
    for (const threads of [1, 2, 4, 1]) {
      const lines: string[] = [];
      expect(await selectBackend('wasm', { threads, log: (l) => lines.push(l) })).toBe('wasm');
      expect(lines).toEqual([`[faceshifter] backend: wasm (${threads} thread${threads === 1 ? '' : 's'})`]);
      results.set(threads, await convAndGradients());
    }
    const one = results.get(1)!;
    for (const threads of [2, 4]) {
      // XNNPACK splits the output among threads, never a sum, so the values are the same bit for bit.
      results.get(threads)!.forEach((values, i) => expect(values).toEqual(one[i]));
    }
  });

  it('keeps the running count when none is asked for', async () => {
    await selectBackend('wasm', { threads: 2, log: () => {} });
    const lines: string[] = [];
    await selectBackend('wasm', { log: (l) => lines.push(l) });
    expect(lines[0]).toContain('(2 threads)');
  });

  it('refuses to change the count under live tensors, and bad counts, in one line naming the option', async () => {
    await selectBackend('wasm', { threads: 1, log: () => {} });
    const kept = tf.ones([3]);
    await expect(selectBackend('wasm', { threads: 2, log: () => {} })).rejects.toThrow(/holds 1 tensor\(s\); choose the thread count before/);
    kept.dispose();
    for (const bad of [0, 1.5, 9, -1, Number.NaN]) {
      await expect(selectBackend('wasm', { threads: bad, log: () => {} })).rejects.toThrow(/^threads must be a whole number from 1 to 8/);
    }
    expect(() => parseThreads('2x')).toThrow("--threads must be a whole number from 1 to 8 (wasm threads), got '2x'.");
    expect(parseThreads(' 3 ')).toBe(3);
  });
});
