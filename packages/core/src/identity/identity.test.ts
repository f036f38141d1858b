import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../node/image_io.js';
import { imageToTensor } from '../image/raw_image.js';
import { loadFaceApiWeights, loadPackageGraphModel } from '../faces/model_files.js';
import { CropResize } from './crop.js';
import { loadFaceApiRecognition, type FaceApiRecognition } from './face_api_recognition.js';
import { depthwiseWithInputGrad, loadHumanFaceres, type HumanFaceres } from './human_faceres.js';
import type { IdentityEncoder } from './identity_encoder.js';
import { IDENTITY_ENCODERS, loadIdentityEncoder } from './registry.js';

const EMBEDDED = fileURLToPath(new URL('../../../../datasets/embedded/', import.meta.url));

/** Three faces of the embedded dataset's one multi-image identity, then three faces of three other people. */
async function identityProbe(): Promise<{ images: tf.Tensor4D; person: boolean[] }> {
  const rows = readFileSync(EMBEDDED + 'manifest.csv', 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const same = rows.filter((r) => r[1] === 'facematch-person-a').slice(0, 3);
  // Women from face-api's group photos: certainly not the man of the face-match screenshot.
  const others = ['face-api-sample1_f0', 'face-api-sample3_f0', 'face-api-sample6_f0'].map((id) => rows.find((r) => r[1] === id)!);
  const picked = [...same, ...others];
  const images = await Promise.all(picked.map(async (r) => imageToTensor(await decodeImage(EMBEDDED + r[0]))));
  const stacked = tf.stack(images) as tf.Tensor4D;
  tf.dispose(images);
  return { images: stacked, person: picked.map((r) => r[1] === 'facematch-person-a') };
}

/** Least similar same-person pair minus most similar pair involving the person and someone else. */
function identityMargin(z: tf.Tensor2D, person: boolean[]): number {
  const sim = tf.tidy(() => tf.matMul(z, z, false, true)).arraySync() as number[][];
  let minSame = Infinity;
  let maxDiff = -Infinity;
  for (let i = 0; i < person.length; i++) {
    for (let j = i + 1; j < person.length; j++) {
      if (person[i] && person[j]) minSame = Math.min(minSame, sim[i]![j]!);
      else if (person[i] || person[j]) maxDiff = Math.max(maxDiff, sim[i]![j]!);
    }
  }
  return minSame - maxDiff;
}

function checkGradient(encoder: IdentityEncoder): void {
  // A face, downscaled: the encoders crop and resize inside, so any input size works.
  const x = tf.tidy(() => tf.image.resizeBilinear(probe.images.slice([0], [1]), [64, 64])) as tf.Tensor4D;
  const target = tf.tidy(() => tf.div(tf.randomNormal([1, encoder.dim], 0, 1, 'float32', 12), Math.sqrt(encoder.dim)));
  const loss = (input: tf.Tensor4D): tf.Scalar => tf.sum(tf.mul(encoder.embed(input), target));
  tf.dispose(loss(x)); // the encoder caches its resize weights per input size: let it, before counting
  const before = tf.memory().numTensors;
  const g = tf.grad((input: tf.Tensor) => loss(input as tf.Tensor4D))(x);
  const gv = g.dataSync();
  expect(gv.every(Number.isFinite)).toBe(true);
  let l1 = 0;
  for (const v of gv) l1 += Math.abs(v);
  expect(l1).toBeGreaterThan(0);
  // It is the real derivative: a small step against it lowers the loss by about what it predicts
  // (a ReLU net is only piecewise linear, hence the loose band).
  const step = tf.tidy(() => tf.mul(g, 1e-3 / tf.max(tf.abs(g)).dataSync()[0]!));
  const predicted = tf.tidy(() => tf.sum(tf.mul(g, step)).dataSync()[0]!);
  const actual = tf.tidy(() => loss(x).dataSync()[0]! - loss(tf.sub(x, step)).dataSync()[0]!);
  expect(actual).toBeGreaterThan(0.5 * predicted);
  expect(actual).toBeLessThan(1.5 * predicted);
  tf.dispose([g, step]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, target]);
}

let probe: { images: tf.Tensor4D; person: boolean[] };
beforeAll(async () => {
  probe = await identityProbe();
});
afterAll(() => probe.images.dispose());

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

  it('embeds any size to unit 128-d vectors and separates the embedded identity from others', () => {
    const z = encoder.embed(probe.images);
    expect(z.shape).toEqual([6, 128]);
    const norms = tf.tidy(() => tf.norm(z, 2, 1).dataSync());
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    expect(identityMargin(z, probe.person)).toBeGreaterThan(0.02);
    z.dispose();
    const small = encoder.embed(tf.zeros([2, 48, 40, 3]) as tf.Tensor4D);
    expect(small.shape).toEqual([2, 128]);
    small.dispose();
  });

  it('passes finite, non-zero, correct gradients to its input', () => {
    checkGradient(encoder);
  });
});

describe('face-api recognition encoder, centred', () => {
  let raw: IdentityEncoder;
  let centred: IdentityEncoder;
  beforeAll(async () => {
    raw = await loadIdentityEncoder('face-api-recognition');
    centred = await loadIdentityEncoder('face-api-recognition-centred');
  });
  afterAll(() => {
    raw.dispose();
    centred.dispose();
  });

  it('spreads strangers and the same person the way L_id needs: strangers near 0, the same person high', () => {
    const [zRaw, zCentred] = [raw, centred].map((e) => e.embed(probe.images));
    const mean = (z: tf.Tensor2D, same: boolean): number => {
      const sim = tf.tidy(() => tf.matMul(z, z, false, true)).arraySync() as number[][];
      const v: number[] = [];
      for (let i = 0; i < 6; i++) for (let j = i + 1; j < 6; j++) if ((probe.person[i]! && probe.person[j]!) === same && (same || probe.person[i] !== probe.person[j])) v.push(sim[i]![j]!);
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    // Raw face-api: strangers already at ~0.85 (README.md); centred: strangers near 0, the same person still high.
    expect(mean(zRaw!, false)).toBeGreaterThan(0.7);
    expect(mean(zCentred!, false)).toBeLessThan(0.3);
    expect(mean(zCentred!, true)).toBeGreaterThan(0.7);
    expect(identityMargin(zCentred!, probe.person)).toBeGreaterThan(identityMargin(zRaw!, probe.person));
    tf.dispose([zRaw!, zCentred!]);
  });

  it('passes finite, non-zero, correct gradients to its input', () => {
    checkGradient(centred);
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

  it('embeds to unit 1024-d vectors and separates the embedded identity from others', () => {
    const z = encoder.embed(probe.images);
    expect(z.shape).toEqual([6, 1024]);
    for (const n of tf.tidy(() => tf.norm(z, 2, 1).dataSync())) expect(n).toBeCloseTo(1, 5);
    expect(identityMargin(z, probe.person)).toBeGreaterThan(0.02);
    z.dispose();
  });

  it('passes finite, non-zero, correct gradients to its input', () => {
    checkGradient(encoder);
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
