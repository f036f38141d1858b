import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePth } from '../weights/pth.js';
import type { SafetensorsFile } from '../weights/safetensors.js';
import { l2Normalize } from './identity_encoder.js';
import { inferIRArchitecture, InsightFaceIR, irArchitecture, irKeys } from './insightface_ir.js';
import { IResNet, inferIResNetArchitecture, iresnetArchitecture, iresnetKeys } from './iresnet.js';
import { parameterCount, type TorchKey } from './torch_frozen.js';

/**
 * Parity with PyTorch: make_identity_fixtures.py transcribes InsightFace_Pytorch's Backbone and arcface_torch's
 * IResNet, builds them at reduced width/depth with seeded weights (BatchNorm statistics and PReLU slopes random),
 * and records eval-mode embeddings and input gradients on seeded inputs (parity_io.pth).
 */
const dir = new URL('./test_fixtures/', import.meta.url);
const pth = (name: string): SafetensorsFile => parsePth(new Uint8Array(readFileSync(new URL(name, dir))), name);
const io = pth('parity_io.pth');
const full = JSON.parse(readFileSync(new URL('full_size.json', dir), 'utf8')) as Record<string, { keys: [string, number[]][]; parameters: number }>;

/** NCHW float values of the fixture as an NHWC tensor. */
function nhwc(name: string): tf.Tensor4D {
  const e = io.tensors.get(name)!;
  return tf.tidy(() => tf.transpose(tf.tensor4d(e.toFloat32(), e.shape as [number, number, number, number]), [0, 2, 3, 1]));
}
function values(name: string): Float32Array {
  return io.tensors.get(name)!.toFloat32();
}
function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(d / n);
}
function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
const keyList = (keys: TorchKey[]): [string, number[]][] => keys.map((k) => [k.name, k.shape]);

describe('full-size architectures: every state_dict key and shape as PyTorch builds them, and the parameter counts', () => {
  it.each([
    ['arcface-ir-se50', irKeys(irArchitecture(50, 'ir_se')), 43_797_696],
    ['arcface-ir100', irKeys(irArchitecture(100, 'ir')), 65_129_792],
    ['arcface-ir-se152', irKeys(irArchitecture(152, 'ir_se')), 71_148_736],
    ['iresnet18', iresnetKeys(iresnetArchitecture(18)), 24_025_600],
    ['iresnet50', iresnetKeys(iresnetArchitecture(50)), 43_590_848],
    ['iresnet100', iresnetKeys(iresnetArchitecture(100)), 65_156_160],
  ] as const)('%s', (name, keys, params) => {
    expect(keyList(keys)).toEqual(full[name]!.keys);
    expect(parameterCount(keys)).toBe(full[name]!.parameters);
    expect(parameterCount(keys)).toBe(params);
  });
});

type Net = { forward(x: tf.Tensor4D): tf.Tensor2D; dispose(): void };

describe.each([
  ['ir_se', () => { const f = pth('ir_se_small.pth'); return new InsightFaceIR(f, inferIRArchitecture(f, 'ir_se')); }],
  ['ir', () => { const f = pth('ir_small.pth'); return new InsightFaceIR(f, inferIRArchitecture(f, 'ir')); }],
  ['iresnet', () => { const f = pth('iresnet_small.pth'); return new IResNet(f, inferIResNetArchitecture(f)); }],
] as [string, () => Net][])('%s (reduced width and depth) against PyTorch', (name, make) => {
  let net: Net;
  beforeAll(() => {
    net = make();
  });
  afterAll(() => net.dispose());

  it('raw and L2-normalised embeddings', () => {
    const before = tf.memory().numTensors;
    const x = nhwc('input112');
    const raw = net.forward(x);
    const z = l2Normalize(raw);
    const rawErr = relL2(raw.dataSync(), values(`${name}.raw`));
    const zErr = maxAbs(z.dataSync(), values(`${name}.embedding`));
    // eslint-disable-next-line no-console
    console.log(`${name} parity: raw rel L2 ${rawErr.toExponential(2)}, normalised max |Δ| ${zErr.toExponential(2)}`);
    expect(rawErr).toBeLessThan(1e-5);
    expect(zErr).toBeLessThan(1e-5);
    tf.dispose([x, raw, z]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('input gradient of sum(z · v)', () => {
    const x = tf.tidy(() => tf.slice(nhwc('input112'), [0, 0, 0, 0], [1, 112, 112, 3]));
    const v = tf.tensor1d(values('v'));
    const g = tf.grad((img: tf.Tensor) => tf.sum(tf.mul(l2Normalize(net.forward(img as tf.Tensor4D)), v)))(x);
    const want = tf.tidy(() => tf.transpose(tf.tensor4d(values(`${name}.grad`), [1, 3, 112, 112]), [0, 2, 3, 1]));
    const err = relL2(g.dataSync(), want.dataSync());
    // eslint-disable-next-line no-console
    console.log(`${name} gradient parity: rel L2 ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    tf.dispose([x, v, g, want]);
  });
});

describe('architecture checks', () => {
  it('names a file of the other family, and a wrong depth, in one line', () => {
    expect(() => inferIRArchitecture(pth('iresnet_small.pth'), 'ir_se')).toThrow(/not an InsightFace_Pytorch Backbone.*looks like an insightface arcface_torch iresnet/);
    expect(() => inferIResNetArchitecture(pth('ir_se_small.pth'))).toThrow(/not an insightface iresnet.*arcface-ir-se50/);
    expect(() => inferIRArchitecture(pth('ir_small.pth'), 'ir_se')).toThrow(/an IR Backbone but the encoder is IR-SE/);
    expect(() => new InsightFaceIR(pth('ir_se_small.pth'), irArchitecture(50, 'ir_se'))).toThrow(/ir_se_small\.pth: .*input_layer\.0\.weight: expected \[64,3,3,3\].*got \[16,3,3,3\]|missing \d+ tensor/);
  });
});
