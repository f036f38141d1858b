import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { relativeError, useBackend, wasmMemoryCounts } from './kernels/test_utils/kernel_compare.js';
import { resolveModelConfig } from '../config/model_config.js';
import { AEINet } from '../models/aei_net.js';
import { MultiscaleDiscriminator } from '../models/multiscale_discriminator.js';
import { auditedOps, outputAndGrads, rand } from './test_utils/audited_ops.js';
import { recordKernels, replayKernels } from './test_utils/kernel_replay.js';

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

  /**
   * The objective on which cpu's gradients of the second discriminator scale were seen to differ from wasm's and
   * webgpu's by 2.4e-2 (issue 11): mean(Ŷ²) + Σ_k mean((z_att^k(X_t) − z_att^k(Ŷ))²) + Σ_scales mean(D(Ŷ)), tiny
   * AEI-Net and D, batch 2. End to end that gradient is discontinuous on every backend: float32 rounding picks the
   * side of 0 of LeakyReLU inputs within ~1e-6 of it, and with it their slope. gradient_f64.test.ts explains the
   * 2.4e-2 that way, against float64. Here every kernel call of its forward and backward pass is recorded on wasm and
   * replayed on cpu with the very same inputs: each must agree to 1e-4.
   */
  // It switches backends itself, so the cpu project's run is enough.
  it.runIf(process.env.FACESHIFTER_BACKEND === 'cpu')('every kernel of the AEI + discriminator objective gives on cpu what it gives on wasm, on the same inputs', async () => {
    await useBackend('wasm');
    const config = resolveModelConfig({ preset: 'tiny', resolution: 32, widthMultiplier: 0.0625, discriminator: { baseChannels: 8 } });
    const aei = new AEINet(config, { seed: 1 });
    const d = new MultiscaleDiscriminator(config, { seed: 2 });
    const xt = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const zId = tf.tidy(() => {
      const z = tf.randomNormal([2, config.cId], 0, 1, 'float32', 4);
      return tf.div(z, tf.norm(z, 'euclidean', 1, true)) as tf.Tensor2D;
    });
    const calls = recordKernels(() => {
      const { value, grads } = tf.variableGrads(() =>
        tf.tidy(() => {
          const { swap, attributes } = aei.forward(xt, zId, { training: true });
          const zAtt = aei.encoder.attributes(swap, { training: true }) as tf.Tensor4D[];
          const att = tf.addN(zAtt.map((a, k) => tf.mean(tf.square(tf.sub(attributes[k]!, a)))));
          const adv = tf.addN(d.judge(swap, { training: true }).map((o) => tf.mean(o)));
          return tf.addN([tf.mean(tf.square(swap)), att, adv]) as tf.Scalar;
        }),
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    await useBackend('cpu');
    const replayed = await replayKernels(calls);
    const failing = Object.entries(replayed).filter(([, r]) => !(r.worst <= 1e-4)).map(([k, r]) => `${k}: ${r.worst} over ${r.calls} calls`);
    expect(Object.keys(replayed).length).toBeGreaterThan(20);
    expect(failing).toEqual([]);
    tf.dispose([xt, zId]);
    aei.dispose();
    d.dispose();
  });
});
