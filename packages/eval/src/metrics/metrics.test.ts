import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '@faceshifter/core/node';
import { listDatasetItems, type DatasetItem } from '@faceshifter/train';
import { FaceMetrics, evaluatePairs } from './evaluate.js';
import { expressionError } from './expression.js';
import { alignedLandmarks68, flipHorizontal } from './landmarks.js';
import { readPairsCsv, type EvalPair } from './pairs.js';
import { headPose, poseError } from './pose.js';
import { meanCI } from './stats.js';

const EMBEDDED = path.resolve(__dirname, '../../../../datasets/embedded');

describe('pose and expression from landmarks', () => {
  // Faces of the embedded set with a clear head turn (|yaw| 10-16°), so the flip test measures something.
  const names = ['faces/face-api-sample3_f1.png', 'faces/face-api-sample5_f0.png'];

  it('an image against its own horizontal flip: yaw and roll negate, pitch stays (tolerance 5°)', async () => {
    for (const name of names) {
      const img = await decodeImage(path.join(EMBEDDED, name));
      const p = headPose(await alignedLandmarks68(img));
      const q = headPose(await alignedLandmarks68(flipHorizontal(img)));
      expect(Math.abs(p.yaw)).toBeGreaterThan(8);
      expect(Math.abs(q.yaw + p.yaw)).toBeLessThan(5);
      expect(Math.abs(q.roll + p.roll)).toBeLessThan(5);
      expect(Math.abs(q.pitch - p.pitch)).toBeLessThan(5);
      expect(Math.abs(poseError(p, q) - Math.hypot(2 * p.yaw, 2 * p.roll))).toBeLessThan(5);
    }
  });

  it('pose and expression error of a face against itself are 0; a mirrored face has a non-zero pose error', async () => {
    const img = await decodeImage(path.join(EMBEDDED, names[0]!));
    const lm = await alignedLandmarks68(img);
    expect(poseError(headPose(lm), headPose(lm))).toBe(0);
    expect(expressionError(lm, lm)).toBeLessThan(1e-9);
    // A similarity-transformed copy has the same expression.
    const moved = lm.map(([x, y]): [number, number] => [0.8 * x - 0.3 * y + 5, 0.3 * x + 0.8 * y - 7]);
    expect(expressionError(moved, lm)).toBeLessThan(1e-6);
    expect(poseError(headPose(moved), headPose(lm))).toBeGreaterThan(15); // roll of atan(0.3/0.8) ≈ 20.6°
  });

  it('the landmarks sit where the alignment template puts the eyes (fixed box is right)', async () => {
    const img = await decodeImage(path.join(EMBEDDED, 'faces/human-faceid_f0.png'));
    const lm = await alignedLandmarks68(img);
    const eye = (idx: number[]): [number, number] => [idx.reduce((s, i) => s + lm[i]![0], 0) / 6, idx.reduce((s, i) => s + lm[i]![1], 0) / 6];
    const [lx, ly] = eye([36, 37, 38, 39, 40, 41]);
    const [rx, ry] = eye([42, 43, 44, 45, 46, 47]);
    // FFHQ template at 256 px: eyes at (96.5, 120) and (159.5, 120).
    expect(Math.hypot(lx - 96.5, ly - 120)).toBeLessThan(6);
    expect(Math.hypot(rx - 159.5, ry - 120)).toBeLessThan(6);
  });
});

describe('meanCI', () => {
  it('is seeded, brackets the mean, and shrinks with more data', () => {
    const v = Array.from({ length: 40 }, (_, i) => (i * 37) % 11);
    const a = meanCI(v, { seed: 3 });
    expect(meanCI(v, { seed: 3 })).toEqual(a);
    expect(a.lo).toBeLessThanOrEqual(a.mean);
    expect(a.hi).toBeGreaterThanOrEqual(a.mean);
    const b = meanCI([...v, ...v, ...v, ...v], { seed: 3 });
    expect(b.hi - b.lo).toBeLessThan(a.hi - a.lo);
    expect(meanCI([2])).toEqual({ mean: 2, lo: 2, hi: 2, n: 1 });
  });
});

describe('baselines on datasets/embedded', () => {
  let metrics: FaceMetrics;
  let pairs: EvalPair[];
  beforeAll(async () => {
    metrics = await FaceMetrics.load();
    // 5 images (cpu runs faceres at ~2.8 s each): 3 of facematch-person-a and 2 single-photo identities, each
    // image once as target with a source of another identity.
    const items = await listDatasetItems(EMBEDDED);
    const a = items.filter((i) => i.identity === 'facematch-person-a').slice(0, 3);
    const others = items.filter((i) => i.identity !== 'facematch-person-a').slice(0, 2);
    const pair = (s: DatasetItem, t: DatasetItem): EvalPair => ({ source: s.file, target: t.file, sourceIdentity: s.identity, targetIdentity: t.identity });
    pairs = [pair(others[0]!, a[0]!), pair(others[1]!, a[1]!), pair(a[2]!, others[0]!), pair(a[0]!, others[1]!), pair(others[0]!, others[1]!)];
  });
  afterAll(() => metrics.dispose());

  it('target baseline: pose and expression error 0, poor retrieval; source baseline: retrieval 100%, high pose error', async () => {
    // The first call builds the networks' lazily made constants; memory must not grow after that.
    await evaluatePairs(pairs.slice(0, 1), { method: 'target', metrics, resolution: 128 });
    const before = tf.memory().numTensors;
    const target = await evaluatePairs(pairs, { method: 'target', metrics, resolution: 128 });
    const source = await evaluatePairs(pairs, { method: 'source', metrics, resolution: 128 });
    expect(tf.memory().numTensors).toBe(before);
    expect(target.summary.poseError.mean).toBe(0);
    expect(target.summary.expressionError.mean).toBeLessThan(1e-6);
    expect(target.summary.idRetrieval.mean).toBeLessThanOrEqual(20);
    expect(source.summary.idRetrieval.mean).toBe(100);
    expect(source.summary.idSimilarity.mean).toBeCloseTo(1, 4);
    expect(source.summary.idRetrieval.mean).toBeGreaterThan(target.summary.idRetrieval.mean);
    expect(source.summary.idSimilarity.mean).toBeGreaterThan(target.summary.idSimilarity.mean);
    expect(source.summary.poseError.mean).toBeGreaterThan(5);
    expect(target.summary.poseError.mean).toBeLessThan(source.summary.poseError.mean);
    expect(target.summary.expressionError.mean).toBeLessThan(source.summary.expressionError.mean);
    expect(target.rows).toHaveLength(5);
    expect(target.summary.identities).toBe(3);
  });
});

describe('readPairsCsv', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pairs-'));
    await fs.copyFile(path.join(EMBEDDED, 'faces/human-faceid_f0.png'), path.join(dir, 'a.png'));
    await fs.copyFile(path.join(EMBEDDED, 'faces/face-api-sample5_f0.png'), path.join(dir, 'b.png'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('reads paths relative to the CSV, identities default to the image path', async () => {
    const file = path.join(dir, 'ok.csv');
    await fs.writeFile(file, 'source,target\na.png,b.png\nb.png,a.png\n');
    const pairs = await readPairsCsv(file);
    expect(pairs).toEqual([
      { source: path.join(dir, 'a.png'), target: path.join(dir, 'b.png'), sourceIdentity: path.join(dir, 'a.png'), targetIdentity: path.join(dir, 'b.png') },
      { source: path.join(dir, 'b.png'), target: path.join(dir, 'a.png'), sourceIdentity: path.join(dir, 'b.png'), targetIdentity: path.join(dir, 'a.png') },
    ]);
  });

  it('names the file, the missing column and the fix', async () => {
    const file = path.join(dir, 'nocol.csv');
    await fs.writeFile(file, 'source,tgt\na.png,b.png\n');
    await expect(readPairsCsv(file)).rejects.toThrow(`${file} line 1: missing column 'target' (header is 'source,tgt'); the header must name 'source,target'`);
  });

  it('names the file, line and path of a missing image', async () => {
    const file = path.join(dir, 'missing.csv');
    await fs.writeFile(file, 'source,target\na.png,b.png\na.png,nope.png\n');
    await expect(readPairsCsv(file)).rejects.toThrow(`${file} line 3: target image 'nope.png' not found (looked at ${path.join(dir, 'nope.png')}); fix the path`);
  });
});
