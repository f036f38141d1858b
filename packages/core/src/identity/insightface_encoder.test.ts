import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyAffine, FFHQ_TEMPLATE } from '../faces/alignment.js';
import { parsePth } from '../weights/pth.js';
import type { SafetensorsFile } from '../weights/safetensors.js';
import { createInsightFaceEncoder, type InsightFaceEncoder } from './insightface_encoder.js';
import { identityEncoderDim, loadIdentityEncoder } from './registry.js';
import { AffineSampler, FACESHIFTER_TEMPLATE_256, inputMap, networkTemplate, templateLandmarkError } from './template_warp.js';

const dir = new URL('./test_fixtures/', import.meta.url);
const pth = (name: string): SafetensorsFile => parsePth(new Uint8Array(readFileSync(new URL(name, dir))), name);
const io = pth('parity_io.pth');
function nhwc(name: string): tf.Tensor4D {
  const e = io.tensors.get(name)!;
  return tf.tidy(() => tf.transpose(tf.tensor4d(e.toFloat32(), e.shape as [number, number, number, number]), [0, 2, 3, 1]));
}
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('the reference preprocessing, inside the encoder', () => {
  it("arcface-ir-se on a 256² faceshifter-aligned face equals taotaonice's arcface(interpolate(X[:, :, 19:237, 19:237], 112, align_corners))", () => {
    const enc = createInsightFaceEncoder('arcface-ir-se', pth('ir_se_small.pth'), { input: 'native' });
    const x = nhwc('input256');
    const z = enc.embed(x);
    const err = maxAbs(z.dataSync(), io.tensors.get('ir_se.embedding256')!.toFloat32());
    // eslint-disable-next-line no-console
    console.log(`arcface-ir-se native 256 → 112 parity: max |Δ| ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
    tf.dispose([x, z]);
    enc.dispose();
  });

  it('iresnet on an aligned 112² crop is the network itself on (p − 127.5)/127.5', () => {
    const enc = createInsightFaceEncoder('iresnet', pth('iresnet_small.pth'), { input: 'aligned-112' });
    const x = nhwc('input112');
    const z = enc.embed(x);
    expect(maxAbs(z.dataSync(), io.tensors.get('iresnet.embedding')!.toFloat32())).toBeLessThan(1e-5);
    expect(() => enc.embed(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D)).toThrow(/aligned-112 input must be 112×112, got 64×64/);
    tf.dispose([x, z]);
    enc.dispose();
  });
});

describe('FFHQ → network template warps', () => {
  // The templates differ in shape, not only in framing: FFHQ's mouth sits lower relative to the eyes than
  // insightface's, so a similarity leaves about a pixel at the eyes and two to two and a half at nose and mouth.
  it.each(['arcface-112', 'faceshifter-256'] as const)('%s: the FFHQ template lands within 2.5 px of the network template at 112²', (alignment) => {
    const e = templateLandmarkError(alignment);
    // eslint-disable-next-line no-console
    console.log(`${alignment}: FFHQ template → network template error at 112²: per point ${e.perPoint.map((v) => v.toFixed(2)).join(', ')} px; max ${e.max.toFixed(2)}, mean ${e.mean.toFixed(2)}`);
    expect(e.perPoint[0]).toBeLessThan(1.1);
    expect(e.perPoint[1]).toBeLessThan(1.1);
    expect(e.max).toBeLessThan(2.5);
    expect(e.mean).toBeLessThan(1.9);
  });

  it('the faceshifter template is insightface\'s shrunk by 0.85, and its crop-resize is nearly the identity on it', () => {
    // InsightFace_Pytorch's REFERENCE_FACIAL_POINTS (30.29459953 + 8 when made square), which the reference uses;
    // insightface's arcface_dst rounds the same points to 4 decimals.
    expect(FACESHIFTER_TEMPLATE_256[0][0]).toBeCloseTo(((30.29459953 + 8 - 56) * 0.85 + 56) * (256 / 112), 9);
    expect(FACESHIFTER_TEMPLATE_256[0][0]).toBeCloseTo(((38.2946 - 56) * 0.85 + 56) * (256 / 112), 5);
    const own = networkTemplate('faceshifter-256');
    const arc = networkTemplate('arcface-112');
    // The reference's 256 alignment cropped [19:237] reproduces insightface's 112 framing to about a pixel.
    for (let i = 0; i < 5; i++) expect(Math.hypot(own[i]![0] - arc[i]![0], own[i]![1] - arc[i]![1])).toBeLessThan(1.5);
  });

  it('maps the FFHQ eyes at any crop size to the same network pixels', () => {
    for (const side of [64, 256, 1024]) {
      const m = inputMap('arcface-112', 'ffhq', side);
      // The left eye of the network template (38.29, 51.70) lands near the FFHQ left eye at this side.
      const [x, y] = applyAffine(m, [38.2946, 51.6963]);
      expect(Math.abs((x + 0.5) / side - FFHQ_TEMPLATE[0][0])).toBeLessThan(0.01);
      expect(Math.abs((y + 0.5) / side - FFHQ_TEMPLATE[0][1])).toBeLessThan(0.01);
    }
  });
});

describe('AffineSampler', () => {
  it('is exact on the identity map, and its gradient is the adjoint of the warp: <Ax, y> = <x, Aᵀy>', () => {
    const before = tf.memory().numTensors;
    const id = new AffineSampler([1, 0, 0, 0, 1, 0], 8, 8, 8);
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    expect(tf.tidy(() => maxAbs(id.apply(x).dataSync(), x.dataSync()))).toBe(0);
    const warp = new AffineSampler(inputMap('arcface-112', 'ffhq', 40), 112, 40, 40);
    const y = tf.randomUniform([2, 112, 112, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    const x40 = tf.randomUniform([2, 40, 40, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const lhs = tf.tidy(() => tf.sum(tf.mul(warp.apply(x40), y)).dataSync()[0]!);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(warp.apply(v as tf.Tensor4D), y)))(x40);
    const rhs = tf.tidy(() => tf.sum(tf.mul(x40, g)).dataSync()[0]!);
    expect(Math.abs(lhs - rhs) / Math.abs(lhs)).toBeLessThan(1e-5);
    tf.dispose([x, y, x40, g]);
    id.dispose();
    warp.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('InsightFaceEncoder on FFHQ-aligned crops', () => {
  let enc: InsightFaceEncoder;
  beforeAll(() => {
    enc = createInsightFaceEncoder('arcface-ir-se', pth('ir_se_small.pth'));
  });
  afterAll(() => enc.dispose());

  it('gives unit-norm embeddings, differentiable w.r.t. the image, without leaking tensors', () => {
    const x = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const zt = tf.randomUniform([1, 32], -1, 1, 'float32', 4);
    enc.embed(x).dispose(); // builds the 64 px sampler once
    const before = tf.memory().numTensors;
    const z = enc.embed(x);
    const norms = tf.tidy(() => tf.norm(z, 2, 1).dataSync());
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    const g = tf.grad((img: tf.Tensor) => tf.sum(tf.mul(enc.embed(img as tf.Tensor4D), zt)))(x);
    const gv = g.dataSync();
    expect(gv.every(Number.isFinite)).toBe(true);
    // The gradient reaches the face region, not only a few pixels: most of the 64² image is inside the crop.
    let nonzero = 0;
    for (let i = 0; i < gv.length; i += 3) if (gv[i] !== 0) nonzero++;
    expect(nonzero / (gv.length / 3)).toBeGreaterThan(0.4);
    tf.dispose([z, g]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, zt]);
  });

  it('has the network metadata of the interface', () => {
    expect(enc.dim).toBe(32);
    expect(enc.inputSize).toBe(112);
    expect(enc.cropBox.size).toBeGreaterThan(0.5);
    expect(enc.cropBox.size).toBeLessThan(1);
  });
});

describe('loadIdentityEncoder for the InsightFace encoders', () => {
  const weights = fileURLToPath(new URL('ir_se_small.pth', dir));
  it('needs a weights file, names a missing one, and checks the architecture the name promises', async () => {
    await expect(loadIdentityEncoder('arcface-ir-se50')).rejects.toThrow(/identity encoder 'arcface-ir-se50' needs its weights: set identity\.weights .*model_ir_se50\.pth/);
    await expect(loadIdentityEncoder('arcface-ir-se50', { weights: '/no/model_ir_se50.pth' })).rejects.toThrow(/^\/no\/model_ir_se50\.pth: no such file \(weights of identity encoder arcface-ir-se50\)$/);
    await expect(loadIdentityEncoder('arcface-ir-se50', { weights })).rejects.toThrow(/arcface-ir-se50 expects units \[3,4,14,3\] of widths \[64,128,256,512\], the weights have \[2,2,1,1\] of \[16,24,32,40\]/);
    await expect(loadIdentityEncoder('iresnet100', { weights })).rejects.toThrow(/not an insightface iresnet state_dict.*use identity encoder arcface-ir-se50/);
    await expect(loadIdentityEncoder('face-api-recognition', { weights })).rejects.toThrow(/ships with its npm package and takes no weights file/);
    const generic = await loadIdentityEncoder('arcface-ir-se', { weights });
    expect(generic.dim).toBe(32);
    generic.dispose();
  });

  it('knows the z_id length of each name', () => {
    expect(identityEncoderDim('arcface-ir-se50')).toBe(512);
    expect(identityEncoderDim('iresnet100')).toBe(512);
    expect(identityEncoderDim('iresnet')).toBeNull();
    expect(identityEncoderDim('face-api-recognition-centred')).toBe(128);
  });
});
