import * as tf from '@tensorflow/tfjs';
import { decodeImage, encodePngSharp } from '@faceshifter/core/node';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colorTransform, drawAugment, FACESHIFTER_JITTER, meanGrey, NO_AUGMENT, writeAugmented, type AugmentParams } from './augment.js';
import { FacePairLoader, listDatasetItems } from './loader.js';

const EMBEDDED = fileURLToPath(new URL('../../../../datasets/embedded', import.meta.url));

async function take(loader: FacePairLoader, n: number): Promise<{ indices: number[][]; same: number[]; pixels: Float32Array[] }> {
  const out = { indices: [] as number[][], same: [] as number[], pixels: [] as Float32Array[] };
  for (let i = 0; i < n; i++) {
    const b = await loader.next();
    out.indices.push([...b.sourceIndex, ...b.targetIndex]);
    out.same.push(...b.same.dataSync());
    out.pixels.push(b.source.dataSync() as Float32Array, b.target.dataSync() as Float32Array);
    tf.dispose([b.source, b.target, b.same]);
  }
  return out;
}

describe('FacePairLoader on datasets/embedded', () => {
  it('reads the manifest: 37 faces', async () => {
    const items = await listDatasetItems(EMBEDDED);
    expect(items).toHaveLength(37);
    expect(items.filter((i) => i.identity === 'facematch-person-a')).toHaveLength(9);
  });

  it('yields [B,R,R,3] pairs in [-1, 1] and a 0/1 same flag, and keeps no tensors of its own', async () => {
    const loader = await FacePairLoader.open({ source: EMBEDDED, batchSize: 4, resolution: 32, sameProbability: 0.5, seed: 1 });
    const before = tf.memory().numTensors;
    const b = await loader.next();
    expect(b.source.shape).toEqual([4, 32, 32, 3]);
    expect(b.target.shape).toEqual([4, 32, 32, 3]);
    expect(b.same.shape).toEqual([4]);
    const [lo, hi] = tf.tidy(() => [tf.min(b.source).dataSync()[0]!, tf.max(b.source).dataSync()[0]!]);
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi - lo).toBeGreaterThan(1); // real photos, not a constant
    tf.dispose([b.source, b.target, b.same]);
    expect(tf.memory().numTensors).toBe(before);
    loader.dispose();
    await expect(loader.next()).rejects.toThrow(/after dispose/);
  });

  it('is deterministic under a seed (order, pairs, flips, jitter) and differs across seeds', async () => {
    const open = (seed: number): Promise<FacePairLoader> =>
      FacePairLoader.open({ source: EMBEDDED, batchSize: 3, resolution: 16, sameProbability: 0.2, seed, prefetch: seed === 7 ? 0 : 3 });
    const [a, b, c] = await Promise.all([open(7), open(7), open(8)]);
    // Different prefetch depths (0 and 3) must not change what comes out.
    const [ra, rb, rc] = [await take(a, 3), await take(b, 3), await take(c, 3)];
    expect(rb.indices).toEqual(ra.indices);
    expect(rb.same).toEqual(ra.same);
    ra.pixels.forEach((p, i) => expect(Array.from(rb.pixels[i]!)).toEqual(Array.from(p)));
    expect(rc.indices).not.toEqual(ra.indices);
    [a, b, c].forEach((l) => l.dispose());
  });

  it('resumes from a saved state() exactly where the saved run was, across an epoch boundary', async () => {
    const options = { source: EMBEDDED, batchSize: 10, resolution: 8, sameProbability: 0.2, prefetch: 2 };
    const a = await FacePairLoader.open({ ...options, seed: 'resume' });
    await take(a, 3); // 30 of 37 faces: the next batches cross into epoch 2
    const saved = JSON.parse(JSON.stringify(a.state())) as unknown;
    const reference = await take(a, 2);
    const b = await FacePairLoader.open({ ...options, seed: 'another seed' });
    await take(b, 1);
    b.restore(saved);
    const resumed = await take(b, 2);
    expect(resumed.indices).toEqual(reference.indices);
    expect(resumed.same).toEqual(reference.same);
    resumed.pixels.forEach((p, i) => expect(Array.from(p)).toEqual(Array.from(reference.pixels[i]!)));
    expect(b.epoch).toBe(a.epoch);
    expect(() => b.restore({ version: 1, items: 5, rng: {}, epochStart: null, cursor: 0, epoch: 0 })).toThrow(/5 images/);
    expect(() => b.restore('nonsense')).toThrow(/not a state/);
    [a, b].forEach((l) => l.dispose());
  });

  for (const p of [0.2, 0.5]) {
    it(`X_s = X_t in ${p * 100}% of 1000 samples (within 4 sigma), exactly equal images then, different ones otherwise`, async () => {
      const loader = await FacePairLoader.open({ source: EMBEDDED, batchSize: 50, resolution: 8, sameProbability: p, seed: `ratio-${p}` });
      let same = 0;
      for (let i = 0; i < 20; i++) {
        const b = await loader.next();
        const flags = b.same.dataSync();
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(b.source, b.target)), [1, 2, 3]).dataSync());
        flags.forEach((f, k) => {
          if (f === 1) {
            same++;
            expect(b.sourceIndex[k]).toBe(b.targetIndex[k]);
            expect(diff[k]).toBe(0);
          } else {
            expect(b.sourceIndex[k]).not.toBe(b.targetIndex[k]);
          }
        });
        tf.dispose([b.source, b.target, b.same]);
      }
      const sigma = Math.sqrt((p * (1 - p)) / 1000);
      expect(Math.abs(same / 1000 - p)).toBeLessThan(4 * sigma);
      expect(loader.epoch).toBeGreaterThanOrEqual(27); // 1000 targets over 37 faces: every face, ~27 times
      loader.dispose();
    });
  }

  it('without augmentation, hands over the image resized to the model resolution, in [-1, 1]', async () => {
    const loader = await FacePairLoader.open({ source: EMBEDDED, batchSize: 1, resolution: 24, sameProbability: 1, seed: 3, jitter: false, flip: false });
    const b = await loader.next();
    const items = await listDatasetItems(EMBEDDED);
    const img = await decodeImage(items[b.targetIndex[0]!]!.file, { resize: 24 });
    const expected = Array.from(img.data, (v) => v / 127.5 - 1);
    const got = Array.from(b.target.dataSync());
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    tf.dispose([b.source, b.target, b.same]);
    loader.dispose();
  });
});

describe('FacePairLoader on a plain folder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'faceshifter-loader-'));
    for (let i = 0; i < 3; i++) {
      const data = new Uint8Array(20 * 20 * 3).fill(40 + 60 * i);
      await fs.mkdir(path.join(dir, `id${i}`), { recursive: true });
      await fs.writeFile(path.join(dir, `id${i}`, 'a.png'), await encodePngSharp({ width: 20, height: 20, channels: 3, data }));
    }
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('takes every image under a folder without a manifest, each its own identity', async () => {
    const items = await listDatasetItems(dir);
    expect(items.map((i) => i.identity)).toEqual(['id0/a', 'id1/a', 'id2/a']);
    const loader = await FacePairLoader.open({ source: dir, batchSize: 2, resolution: 10, sameProbability: 0, seed: 1, jitter: false });
    const b = await loader.next();
    expect(b.source.shape).toEqual([2, 10, 10, 3]);
    tf.dispose([b.source, b.target, b.same]);
    loader.dispose();
  });

  it('names the problem for a missing dataset, a one-image dataset, or a bad option', async () => {
    await expect(FacePairLoader.open({ source: path.join(dir, 'nope'), batchSize: 1, resolution: 8, sameProbability: 0.2, seed: 1 })).rejects.toThrow(/does not exist.*prepare-data/);
    await expect(FacePairLoader.open({ source: path.join(dir, 'id0'), batchSize: 1, resolution: 8, sameProbability: 0.2, seed: 1 })).rejects.toThrow(/one image/);
    await expect(FacePairLoader.open({ source: dir, batchSize: 1, resolution: 8, sameProbability: 1.5, seed: 1 })).rejects.toThrow(/sameProbability/);
  });
});

describe('augmentation', () => {
  const none: AugmentParams = { ...NO_AUGMENT };
  const size = 4;
  const pixels = Uint8Array.from({ length: size * size * 3 }, (_, i) => (i * 53) % 256);
  const run = (p: AugmentParams, px: Uint8Array = pixels): Float32Array => {
    const out = new Float32Array(px.length);
    writeAugmented(px, size, p, out, 0);
    return out;
  };
  const at = (a: Float32Array, x: number, y: number, c: number): number => a[(y * size + x) * 3 + c]!;

  it('without jitter maps 0..255 to [-1, 1], and a flip mirrors the columns', () => {
    const plain = run(none);
    plain.forEach((v, i) => expect(v).toBeCloseTo(pixels[i]! / 127.5 - 1, 6));
    const flipped = run({ ...none, flip: true });
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) expect(at(flipped, x, y, c)).toBe(at(plain, size - 1 - x, y, c));
  });

  it('follows the ColorJitter definitions for brightness and contrast (with clipping)', () => {
    const bright = run({ ...none, brightness: 1.2 });
    bright.forEach((v, i) => expect(v).toBeCloseTo(2 * Math.min(1, (1.2 * pixels[i]!) / 255) - 1, 5));
    const grey = new Uint8Array(size * size * 3).fill(100);
    grey[0] = grey[1] = grey[2] = 200; // one brighter pixel
    const mean = meanGrey(grey);
    const contrast = run({ ...none, contrast: 0.8 }, grey);
    expect(contrast[3]).toBeCloseTo(2 * (0.8 * (100 / 255) + 0.2 * mean) - 1, 5);
  });

  it('keeps grey pixels grey under saturation and hue changes, and stays in [-1, 1]', () => {
    const grey = new Uint8Array(size * size * 3).fill(120);
    const out = run({ ...none, saturation: 1.2, hue: 0.01 }, grey);
    for (const v of out) expect(v).toBeCloseTo(120 / 127.5 - 1, 3);
    let s = 1;
    const rng = (): number => (s = (s * 9301 + 49297) % 233280) / 233280;
    for (let i = 0; i < 20; i++) {
      const p = drawAugment(rng, FACESHIFTER_JITTER, true);
      expect(Math.abs(p.brightness - 1)).toBeLessThanOrEqual(0.2);
      expect(Math.abs(p.contrast - 1)).toBeLessThanOrEqual(0.2);
      expect(Math.abs(p.saturation - 1)).toBeLessThanOrEqual(0.2);
      expect(Math.abs(p.hue)).toBeLessThanOrEqual(0.01);
      for (const v of run(p)) expect(Math.abs(v)).toBeLessThanOrEqual(1);
    }
  });

  it('rotates hue in the chroma plane: a pure red moves toward yellow or magenta, luma kept', () => {
    const red = new Uint8Array(size * size * 3);
    for (let i = 0; i < red.length; i += 3) red[i] = 200;
    const { m } = colorTransform({ ...none, hue: 0.02 }, meanGrey(red));
    const rgb = [0, 1, 2].map((i) => m[i]![0]! * (200 / 255));
    expect(rgb[1]).toBeGreaterThan(0); // green grows: toward yellow
    expect(0.299 * rgb[0]! + 0.587 * rgb[1]! + 0.114 * rgb[2]!).toBeCloseTo(0.299 * (200 / 255), 3);
  });
});
