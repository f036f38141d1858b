import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFaceApiRecognition, type FaceApiRecognition } from './face_api_recognition.js';
import { loadHumanFaceres, type HumanFaceres } from './human_faceres.js';
import type { IdentityEncoder } from './identity_encoder.js';
import { loadIdentityEncoder } from './registry.js';
import { useIdentityProbe } from './test_utils/probe.js';

/**
 * What the pretrained encoders do with real faces: unit embeddings that put the same person closer than strangers.
 * A property of the packaged weights, not of the backend (the forward and gradient parity of the encoders is tested
 * on every backend in identity.test.ts), so this file runs once, on wasm (vitest.config.ts, BACKEND_INDEPENDENT).
 */

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

const probe = useIdentityProbe();

describe('face-api recognition encoder', () => {
  let encoder: FaceApiRecognition;
  beforeAll(async () => {
    encoder = await loadFaceApiRecognition();
  });
  afterAll(() => encoder.dispose());

  it('embeds any size to unit 128-d vectors and separates the embedded identity from others', () => {
    const z = encoder.embed(probe().images);
    expect(z.shape).toEqual([6, 128]);
    const norms = tf.tidy(() => tf.norm(z, 2, 1).dataSync());
    for (const n of norms) expect(n).toBeCloseTo(1, 5);
    expect(identityMargin(z, probe().person)).toBeGreaterThan(0.02);
    z.dispose();
    const small = encoder.embed(tf.zeros([2, 48, 40, 3]) as tf.Tensor4D);
    expect(small.shape).toEqual([2, 128]);
    small.dispose();
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
    const [zRaw, zCentred] = [raw, centred].map((e) => e.embed(probe().images));
    const mean = (z: tf.Tensor2D, same: boolean): number => {
      const sim = tf.tidy(() => tf.matMul(z, z, false, true)).arraySync() as number[][];
      const v: number[] = [];
      for (let i = 0; i < 6; i++) for (let j = i + 1; j < 6; j++) if ((probe().person[i]! && probe().person[j]!) === same && (same || probe().person[i] !== probe().person[j])) v.push(sim[i]![j]!);
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    // Raw face-api: strangers already at ~0.85 (README.md); centred: strangers near 0, the same person still high.
    expect(mean(zRaw!, false)).toBeGreaterThan(0.7);
    expect(mean(zCentred!, false)).toBeLessThan(0.3);
    expect(mean(zCentred!, true)).toBeGreaterThan(0.7);
    expect(identityMargin(zCentred!, probe().person)).toBeGreaterThan(identityMargin(zRaw!, probe().person));
    tf.dispose([zRaw!, zCentred!]);
  });
});

describe('Human faceres encoder', () => {
  let encoder: HumanFaceres;
  beforeAll(async () => {
    encoder = await loadHumanFaceres();
  });
  afterAll(() => encoder.dispose());

  it('embeds to unit 1024-d vectors and separates the embedded identity from others', () => {
    const z = encoder.embed(probe().images);
    expect(z.shape).toEqual([6, 1024]);
    for (const n of tf.tidy(() => tf.norm(z, 2, 1).dataSync())) expect(n).toBeCloseTo(1, 5);
    expect(identityMargin(z, probe().person)).toBeGreaterThan(0.02);
    z.dispose();
  });
});
