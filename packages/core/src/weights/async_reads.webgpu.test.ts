import * as tf from '@tensorflow/tfjs';
import { afterAll, expect, it } from 'vitest';
import { selectBackend } from '../backend/select_backend.js';
import { resolveModelConfig } from '../config/model_config.js';
import { identityMean } from '../identity/centred_encoder.js';
import { MultiscaleDiscriminator } from '../models/multiscale_discriminator.js';
import { describeOnWebGPU, readAndDispose } from '../test_utils/webgpu_tests.js';
import { exportReferenceTensors } from './reference_mapping.js';

/**
 * Command paths that once read tensors synchronously, which webgpu in Node cannot do (no blocking readback): they
 * run on webgpu, on tensors that live on the GPU. (Human faceres, which now reads its graph constants at load, is
 * loaded and run on webgpu by the op audit, webgpu_audit.webgpu.test.ts.)
 */
describeOnWebGPU('webgpu: paths that read tensors back', () => {
  afterAll(async () => {
    await selectBackend('webgpu', { log: () => {} });
  });

  it('exportReferenceTensors (yarn weights export) reads GPU-resident weights', async () => {
    await selectBackend('webgpu', { log: () => {} });
    const config = resolveModelConfig({ preset: 'tiny', resolution: 32, discriminator: { baseChannels: 4, nLayers: 2 } });
    const d = new MultiscaleDiscriminator(config, { seed: 3 });
    // A forward pass first, so that the weights have been uploaded and live only on the GPU.
    await readAndDispose([tf.tidy(() => d.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor[])].flat());
    // The old synchronous read fails on such a tensor: this test exercises the GPU-only case.
    expect(() => d.weights[0]!.read().dataSync()).toThrow(/cannot read GPU data synchronously/);
    const exported = await exportReferenceTensors('discriminator', d);
    const weights = await readAndDispose(d.weights.map((w) => tf.clone(w.read())));
    d.dispose();
    const floats = exported.filter(([, t]) => t.dtype === 'F32').map(([, t]) => t.data as Float32Array);
    // The names and layouts differ (PyTorch's OIHW), the values do not: compare each tensor's sum, in sorted order.
    const sums = (list: Float32Array[]): number[] => list.map((a) => a.reduce((s, v) => s + v, 0)).sort((x, y) => x - y);
    expect(floats.length).toBe(weights.length);
    const [a, b] = [sums(floats), sums(weights)];
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 4));
  });

  it('identityMean reads GPU-resident embeddings', async () => {
    await selectBackend('webgpu', { log: () => {} });
    // Large enough to stay on the GPU (tfjs-webgpu runs ops on tiny CPU-resident tensors on the CPU).
    const z = tf.tidy(() => tf.slice(tf.mul(tf.concat([tf.tensor2d([[1, 0], [1, 0], [1, 0], [0, 1]]), tf.zeros([4096, 2])]), 1), [0, 0], [4, 2]));
    expect(() => z.arraySync()).toThrow(/cannot read GPU data synchronously/);
    expect(Array.from(await identityMean(z as tf.Tensor2D, ['a', 'a', 'a', 'b']))).toEqual([0.5, 0.5]);
    z.dispose();
  });
});
