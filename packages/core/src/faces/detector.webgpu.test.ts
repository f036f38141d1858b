import * as tf from '@tensorflow/tfjs';
import { afterAll, expect, it } from 'vitest';
import { selectBackend } from '../backend/select_backend.js';
import { describeOnWebGPU, readAndDispose } from '../test_utils/webgpu_tests.js';
import { loadFaceDetector } from './detector.js';
import { decodeImage } from '../node/image_io.js';
import { packageFile } from '../node/package_files.js';

/**
 * face-api's detector reads its outputs with dataSync, which webgpu in Node cannot do; under webgpu it runs on wasm
 * (withSyncReadableBackend), so `yarn prepare-data` and `yarn swap` work with `--backend webgpu`.
 */
describeOnWebGPU('face detection under webgpu', () => {
  afterAll(async () => {
    await selectBackend('webgpu', { log: () => {} });
  });

  it('finds what it finds on wasm, leaves webgpu active and its tensors in place', { timeout: 300_000 }, async () => {
    const photo = await decodeImage(packageFile('@vladmandic/face-api', 'demo/sample1.jpg'));
    await selectBackend('wasm', { log: () => {} });
    const reference = await (await loadFaceDetector()).detect(photo);
    await selectBackend('webgpu', { log: () => {} });
    // A tensor that lives on the GPU during detection, and must still be readable there afterwards.
    const onGpu = tf.tidy(() => tf.mul(tf.range(0, 4096), 2));
    const before = tf.memory().numTensors;
    const faces = await (await loadFaceDetector()).detect(photo);
    expect(tf.getBackend()).toBe('webgpu');
    expect(tf.memory().numTensors).toBe(before);
    expect(faces).toHaveLength(3);
    expect(faces).toEqual(reference);
    const [values] = await readAndDispose([onGpu]);
    expect(values![4095]).toBe(8190);
  });
});
