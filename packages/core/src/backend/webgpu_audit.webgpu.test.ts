import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeImage } from '../node/image_io.js';
import { imageToTensor } from '../image/raw_image.js';
import { loadIdentityEncoder } from '../identity/registry.js';
import { selectBackend } from './select_backend.js';
import { describeOnWebGPU, readAndDispose, relativeL2, webgpuMemory } from '../test_utils/webgpu_tests.js';
import { auditedOps, outputAndGradTensors as outputAndGrads } from './test_utils/audited_ops.js';

/**
 * The webgpu backend against cpu, the reference: the output and the gradient of every input of every audited op
 * (test_utils/audited_ops.ts), and the input gradients of both identity encoders, must agree to a relative L2 error
 * of 1e-4 per tensor, without leaking tensors or GPU buffers. The worst error of each op is printed for the record.
 */
const TOLERANCE = 1e-4;

async function on(backend: 'cpu' | 'webgpu'): Promise<void> {
  await selectBackend(backend, { log: () => {} });
  // On SwiftShader one tf.grad call can block this worker for a minute (shader compilation, emulated dispatches);
  // vitest's worker RPC times out when a call to it is pending across such a block, so let pending calls settle.
  if (backend === 'webgpu') await new Promise((resolve) => setTimeout(resolve, 1000));
}

const worst: Record<string, number> = {};
afterAll(() => {
  if (Object.keys(worst).length === 0) return;
  const lines = Object.entries(worst).map(([name, e]) => `  ${e.toExponential(2)}  ${name}`);
  process.stderr.write(`[faceshifter] webgpu vs cpu, worst relative L2 per op (${lines.length} ops):\n${lines.join('\n')}\n`);
});

describeOnWebGPU('op audit on webgpu', () => {
  afterAll(async () => {
    await on('webgpu');
  });

  it('computes every op and its gradients as the cpu backend does, without leaking', async () => {
    await on('cpu');
    const ops = auditedOps();
    const report: Record<string, string> = {};
    const expected: Record<string, string> = {};
    let tensorsChecked = 0;
    for (const [name, [args, op]] of Object.entries(ops)) {
      await on('cpu');
      const reference = await readAndDispose(outputAndGrads(op, args));
      await on('webgpu');
      await readAndDispose(outputAndGrads(op, args)); // moves the inputs to webgpu, so the count below sees only what the op leaves
      const before = webgpuMemory();
      const actual = await readAndDispose(outputAndGrads(op, args));
      const after = webgpuMemory();
      const e = Math.max(...actual.map((v, i) => relativeL2(v, reference[i]!)));
      worst[name] = e;
      tensorsChecked += actual.length;
      const leaks = after.tensors - before.tensors + (after.dataIds - before.dataIds);
      report[name] = `${actual.length === reference.length && e <= TOLERANCE ? 'ok' : `rel. L2 ${e}`}, leaked ${leaks}`;
      expected[name] = 'ok, leaked 0';
      tf.dispose(args);
    }
    process.stderr.write(`[faceshifter] webgpu op audit: ${Object.keys(ops).length} ops, ${tensorsChecked} tensors\n`);
    expect(report).toEqual(expected);
  });
});

/**
 * The identity encoders' input gradients are discontinuous at real faces, on every backend: a face smaller than the
 * encoder's input is upsampled, so neighbouring pixels, and the conv outputs a max-pool (face-api) or ReLU6 (faceres)
 * chooses between, are near-ties, and float32 rounding decides which one receives the gradient. The cpu backend's own
 * gradient moves by 2e-2 when the face moves by 1e-7 (wasm's likewise). So the embedding must match cpu to 1e-4, and
 * the gradient to within that measured jump (twice the largest change of cpu's own result under 1e-7 perturbations).
 */
describeOnWebGPU('identity encoders on webgpu', () => {
  let face: { values: Float32Array; shape: [number, number, number, number] };
  beforeAll(async () => {
    await on('cpu');
    const file = fileURLToPath(new URL('../../../../datasets/embedded/faces/face-api-sample1_f0.png', import.meta.url));
    const image = imageToTensor(await decodeImage(file));
    // Small: SwiftShader emulates the GPU on the CPU. The encoders crop and resize inside, so any size works.
    const small = tf.tidy(() => tf.image.resizeBilinear(tf.expandDims(image, 0) as tf.Tensor4D, [48, 48]));
    face = { values: (await small.data()) as Float32Array, shape: [1, 48, 48, 3] };
    tf.dispose([image, small]);
  });

  // faceres's gradient takes 13 s on cpu and 50 s on SwiftShader, hence one perturbation only.
  for (const [name, perturbations] of [['face-api-recognition', [1, 2, 3]], ['human-faceres', [1]]] as const) {
    it(`${name}: embedding matches cpu to 1e-4, input gradient to within cpu's own discontinuity`, { timeout: 400_000 }, async () => {
      await on('cpu');
      const encoder = await loadIdentityEncoder(name);
      const target = tf.tidy(() => tf.div(tf.randomNormal([1, encoder.dim], 0, 1, 'float32', 12), Math.sqrt(encoder.dim)));
      const run = (noiseSeed?: number): tf.Tensor[] =>
        tf.tidy(() => {
          let x = tf.tensor4d(face.values, face.shape);
          if (noiseSeed !== undefined) x = tf.add(x, tf.mul(tf.randomNormal(face.shape, 0, 1, 'float32', noiseSeed), 1e-7));
          return [encoder.embed(x), tf.grad((y: tf.Tensor) => tf.sum(tf.mul(encoder.embed(y as tf.Tensor4D), target)))(x)];
        });
      const reference = await readAndDispose(run());
      let jump = 0;
      for (const seed of perturbations) jump = Math.max(jump, relativeL2((await readAndDispose(run(seed)))[1]!, reference[1]!));
      await on('webgpu');
      const actual = await readAndDispose(run());
      const [embedding, gradient] = actual.map((v, i) => relativeL2(v, reference[i]!)) as [number, number];
      worst[`${name} embedding`] = embedding;
      worst[`${name} input gradient (cpu's own jump under 1e-7 noise: ${jump.toExponential(2)})`] = gradient;
      expect(embedding).toBeLessThanOrEqual(TOLERANCE);
      expect(gradient).toBeLessThanOrEqual(Math.max(TOLERANCE, 2 * jump));
      await on('cpu');
      target.dispose();
      encoder.dispose();
    });
  }
});
