import { describe, expect, it } from 'vitest';
import { OcclusionAugmenter, type FloatImage } from './occlusion.js';

function face(seed: number, size = 32): FloatImage {
  const data = new Float32Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37 + seed) * 0.8;
  return { width: size, height: size, data };
}
const changedFraction = (a: FloatImage, b: FloatImage): number => {
  let n = 0;
  for (let p = 0; p < a.width * a.height; p++) {
    if ([0, 1, 2].some((c) => Math.abs(a.data[p * 3 + c]! - b.data[p * 3 + c]!) > 1e-6)) n++;
  }
  return n / (a.width * a.height);
};

describe('OcclusionAugmenter', () => {
  const batch = [face(1), face(2), face(3), face(4)];

  it('is deterministic under a seed, and resumable from its saved state', () => {
    const a = new OcclusionAugmenter(7);
    const b = new OcclusionAugmenter(7);
    const first = a.apply(batch);
    expect(b.apply(batch)).toEqual(first);
    const saved = a.state();
    const next = a.apply(batch);
    const c = new OcclusionAugmenter('another seed');
    c.restore(saved);
    expect(c.apply(batch)).toEqual(next);
    expect(new OcclusionAugmenter(8).apply(batch)).not.toEqual(first);
  });

  it('draws none / one / other / both a quarter of the time each, and leaves "none" untouched', () => {
    const aug = new OcclusionAugmenter(1);
    const counts = { none: 0, first: 0, second: 0, both: 0 };
    for (let i = 0; i < 100; i++) {
      const { images, kinds } = aug.apply(batch);
      kinds.forEach((k, j) => {
        counts[k]++;
        const changed = changedFraction(images[j]!, batch[j]!);
        if (k === 'none') expect(changed).toBe(0);
        // Scale 0.5–1 of half the side: an occluder covers a visible part of the face, never the whole image.
        else expect(changed).toBeGreaterThan(0.01);
        expect(changed).toBeLessThan(0.9);
      });
    }
    for (const k of Object.keys(counts) as (keyof typeof counts)[]) expect(counts[k] / 400).toBeGreaterThan(0.19), expect(counts[k] / 400).toBeLessThan(0.31);
  });

  it('keeps values in [-1, 1] and does not modify its input', () => {
    const copy = batch.map((b) => Float32Array.from(b.data));
    const { images } = new OcclusionAugmenter(3).apply(batch);
    for (const img of images) for (const v of img.data) expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-6);
    batch.forEach((b, i) => expect(b.data).toEqual(copy[i]));
  });

  it('uses user RGBA cut-outs, and their transparent pixels change nothing', () => {
    const size = 8;
    const data = new Uint8Array(size * size * 4);
    for (let p = 0; p < size * size; p++) data.set([255, 0, 0, 0], p * 4);
    const transparent = { width: size, height: size, channels: 4 as const, data };
    const aug = new OcclusionAugmenter(5, { userOccluders: [transparent], scale: [1, 1] });
    for (let i = 0; i < 20; i++) {
      const { images, kinds } = aug.apply([face(1)]);
      if (kinds[0] === 'first') expect(changedFraction(images[0]!, face(1))).toBe(0);
    }
    expect(() => new OcclusionAugmenter(1, { userOccluders: [{ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }] })).toThrow(/must be RGBA/);
  });
});
