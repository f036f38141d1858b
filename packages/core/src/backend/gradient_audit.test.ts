import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { relativeError, useBackend, wasmMemoryCounts } from './kernels/test_utils/kernel_compare.js';
import { auditedOps, outputAndGrads, rand } from './test_utils/audited_ops.js';

/**
 * Every op the FaceShifter networks, losses and frozen identity encoders differentiate through, run under tf.grad on
 * wasm (with the training kernels registered) and on cpu, the reference: outputs and the gradients of every input
 * must agree to a relative error of 1e-4 (max |a - b| / max |b|), and wasm must not leak tensors or buffers.
 */
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
