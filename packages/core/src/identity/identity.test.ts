import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFaceApiWeights, loadPackageGraphModel } from '../faces/model_files.js';
import { CropResize } from './crop.js';
import { useIdentityProbe } from './test_utils/probe.js';
import { loadFaceApiRecognition, type FaceApiRecognition } from './face_api_recognition.js';
import { depthwiseWithInputGrad, loadHumanFaceres, type HumanFaceres } from './human_faceres.js';
import type { IdentityEncoder } from './identity_encoder.js';
import { IDENTITY_ENCODERS, loadIdentityEncoder } from './registry.js';

// A face image's gradient through an encoder takes up to a minute on cpu; yielding between its phases lets the
// event loop read vitest's RPC replies meanwhile (see vitest.setup.ts).
const turnEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function checkGradient(encoder: IdentityEncoder): Promise<void> {
  // A face, downscaled: the encoders crop and resize inside, so any input size works.
  const x = tf.tidy(() => tf.image.resizeBilinear(probe().images.slice([0], [1]), [64, 64])) as tf.Tensor4D;
  const target = tf.tidy(() => tf.div(tf.randomNormal([1, encoder.dim], 0, 1, 'float32', 12), Math.sqrt(encoder.dim)));
  const loss = (input: tf.Tensor4D): tf.Scalar => tf.sum(tf.mul(encoder.embed(input), target));
  tf.dispose(loss(x)); // the encoder caches its resize weights per input size: let it, before counting
  await turnEventLoop();
  const before = tf.memory().numTensors;
  const g = tf.grad((input: tf.Tensor) => loss(input as tf.Tensor4D))(x);
  await turnEventLoop();
  const gv = g.dataSync();
  expect(gv.every(Number.isFinite)).toBe(true);
  let l1 = 0;
  for (const v of gv) l1 += Math.abs(v);
  expect(l1).toBeGreaterThan(0);
  // It is the real derivative: a small step against it lowers the loss by about what it predicts
  // (a ReLU net is only piecewise linear, hence the loose band).
  const step = tf.tidy(() => tf.mul(g, 1e-3 / tf.max(tf.abs(g)).dataSync()[0]!));
  const predicted = tf.tidy(() => tf.sum(tf.mul(g, step)).dataSync()[0]!);
  await turnEventLoop();
  const actual = tf.tidy(() => loss(x).dataSync()[0]! - loss(tf.sub(x, step)).dataSync()[0]!);
  expect(actual).toBeGreaterThan(0.5 * predicted);
  expect(actual).toBeLessThan(1.5 * predicted);
  tf.dispose([g, step]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, target]);
}

const probe = useIdentityProbe();

describe('face-api recognition encoder', () => {
  let encoder: FaceApiRecognition;
  beforeAll(async () => {
    const variables = Object.keys(tf.engine().state.registeredVariables).length;
    encoder = await loadFaceApiRecognition();
    // Frozen: loading registers no variable an optimiser could train.
    expect(Object.keys(tf.engine().state.registeredVariables).length).toBe(variables);
  });
  afterAll(() => encoder.dispose());

  it('computes the same descriptor as face-api itself (folded scale layers, plain ops)', async () => {
    const mod = (await import('@vladmandic/face-api/dist/face-api.node-wasm.js')) as unknown as {
      default?: unknown;
      FaceRecognitionNet: new () => { loadFromWeightMap(w: tf.NamedTensorMap): void; forwardInput(input: unknown): tf.Tensor2D; dispose(): void };
      NetInput: new (inputs: tf.Tensor3D[]) => unknown;
    };
    const api = (mod.default ?? mod) as typeof mod;
    const reference = new api.FaceRecognitionNet();
    reference.loadFromWeightMap(await loadFaceApiWeights('face_recognition_model'));
    const pixels = tf.randomUniform([1, 150, 150, 3], 0, 255, 'float32', 3) as tf.Tensor4D;
    const ours = encoder.descriptors(pixels);
    const theirs = tf.tidy(() => reference.forwardInput(new api.NetInput([tf.squeeze(pixels, [0]) as tf.Tensor3D])));
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]!);
    expect(diff).toBeLessThan(1e-4);
    tf.dispose([pixels, ours, theirs]);
    reference.dispose();
  });


  it('passes finite, non-zero, correct gradients to its input', async () => {
    await checkGradient(encoder);
  });
});

describe('face-api recognition encoder, centred', () => {
  let centred: IdentityEncoder;
  beforeAll(async () => {
    centred = await loadIdentityEncoder('face-api-recognition-centred');
  });
  afterAll(() => centred.dispose());


  it('passes finite, non-zero, correct gradients to its input', async () => {
    await checkGradient(centred);
  });
});

describe('Human faceres encoder', () => {
  let encoder: HumanFaceres;
  beforeAll(async () => {
    const variables = Object.keys(tf.engine().state.registeredVariables).length;
    encoder = await loadHumanFaceres();
    expect(Object.keys(tf.engine().state.registeredVariables).length).toBe(variables);
  });
  afterAll(() => encoder.dispose());

  it('computes what tf.GraphModel computes for global_pooling/Mean', async () => {
    const model = await loadPackageGraphModel('@vladmandic/human', 'models/faceres.json');
    const pixels = tf.randomUniform([1, 224, 224, 3], 0, 255, 'float32', 4) as tf.Tensor4D;
    const ours = encoder.features(pixels);
    const theirs = model.execute(pixels, 'global_pooling/Mean') as tf.Tensor;
    expect(ours.shape).toEqual([1, 1024]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]!);
    expect(diff).toBeLessThan(1e-3);
    tf.dispose([pixels, ours, theirs]);
    model.dispose();
  });


  it('passes finite, non-zero, correct gradients to its input', async () => {
    await checkGradient(encoder);
  });
});

describe('depthwiseWithInputGrad', () => {
  // A depthwise conv is a conv2d with a block-diagonal filter, whose input gradient every backend has.
  for (const [size, stride, pad] of [[9, 1, 'same'], [8, 2, 'same'], [9, 2, 'same'], [9, 2, 'valid'], [10, 1, 'valid']] as const) {
    it(`matches conv2d's input gradient (size ${size}, stride ${stride}, ${pad})`, () => {
      const c = 3;
      const x = tf.randomNormal([2, size, size, c], 0, 1, 'float32', 1) as tf.Tensor4D;
      const f = tf.randomNormal([3, 3, c, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
      const dense = tf.tidy(() => tf.mul(tf.reshape(f, [3, 3, c, 1]), tf.reshape(tf.eye(c), [1, 1, c, c])) as tf.Tensor4D);
      const w = tf.randomNormal(tf.tidy(() => tf.depthwiseConv2d(x, f, stride, pad).shape), 0, 1, 'float32', 3);
      const ours = tf.grad((i: tf.Tensor) => tf.sum(tf.mul(depthwiseWithInputGrad(i as tf.Tensor4D, f, [stride, stride], pad), w)))(x);
      const reference = tf.grad((i: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(i as tf.Tensor4D, dense, stride, pad), w)))(x);
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(ours, reference))).dataSync()[0]!)).toBeLessThan(1e-4);
      tf.dispose([x, f, dense, w, ours, reference]);
    });
  }
});

describe('CropResize', () => {
  it('is the identity for the whole image at its own size, and a box filter for an exact 2x shrink', () => {
    const img = tf.randomUniform([1, 8, 8, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const same = new CropResize({ x: 0, y: 0, size: 1 }, 8);
    const half = new CropResize({ x: 0.5, y: 0, size: 0.5 }, 2);
    const a = same.apply(img);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, img))).dataSync()[0]!)).toBeLessThan(1e-6);
    // Top-right quadrant (x 4..7, y 0..3) shrunk 2x: a triangle filter of width 2 over 2x2 cells averages 4x4 blocks
    // with weights (1,3,3,1)/8 per axis.
    const b = half.apply(img).arraySync()[0]!;
    const v = img.arraySync()[0]!;
    const k = [1, 3, 3, 1].map((t) => t / 8);
    const expected = (oy: number, ox: number, ch: number): number => {
      let s = 0;
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          const yy = Math.min(7, Math.max(0, oy * 2 - 1 + i));
          const xx = Math.min(7, Math.max(0, 4 + ox * 2 - 1 + j));
          s += k[i]! * k[j]! * v[yy]![xx]![ch]!;
        }
      }
      return s;
    };
    for (let oy = 0; oy < 2; oy++) for (let ox = 0; ox < 2; ox++) for (let ch = 0; ch < 3; ch++) expect(b[oy]![ox]![ch]).toBeCloseTo(expected(oy, ox, ch), 5);
    tf.dispose([img, a]);
    same.dispose();
    half.dispose();
  });
});

describe('loadIdentityEncoder', () => {
  it('lists the registered encoders and names them in the error for an unknown one', async () => {
    expect(IDENTITY_ENCODERS.slice(0, 4)).toEqual(['face-api-recognition', 'face-api-recognition-centred', 'human-faceres', 'arcface-ir-se50']);
    expect(IDENTITY_ENCODERS).toContain('iresnet100');
    await expect(loadIdentityEncoder('arcface')).rejects.toThrow(/Unknown identity encoder 'arcface'.*face-api-recognition, face-api-recognition-centred, human-faceres, arcface-ir-se50/);
  });

  it('a disposed encoder says so instead of failing inside tfjs', async () => {
    const e = await loadIdentityEncoder('face-api-recognition');
    expect(e.name).toBe('face-api-recognition');
    expect(e.dim).toBe(128);
    e.dispose();
    expect(() => e.embed(tf.zeros([1, 8, 8, 3]) as tf.Tensor4D)).toThrow(/disposed/);
  });
});
