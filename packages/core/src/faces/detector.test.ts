import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { alignmentTransform, applyAffine, FFHQ_TEMPLATE, warpAffine, type Landmarks5 } from './alignment.js';
import { loadFaceDetector, type FaceDetector } from './detector.js';
import { decodeImage } from '../node/image_io.js';
import { packageFile } from '../node/package_files.js';

// The committed embedded dataset (datasets/embedded): its manifest holds the landmarks detected in the source photos.
const EMBEDDED = fileURLToPath(new URL('../../../../datasets/embedded/', import.meta.url));
const SIZE = 256;
const template = FFHQ_TEMPLATE.map(([x, y]) => [x * SIZE, y * SIZE] as const);
const eyeMid = (l: readonly (readonly [number, number])[]): [number, number] => [(l[0]![0] + l[1]![0]) / 2, (l[0]![1] + l[1]![1]) / 2];

interface EmbeddedFace {
  path: string;
  identity: string;
  landmarks: Landmarks5;
}

function embeddedFaces(): EmbeddedFace[] {
  const [header, ...lines] = readFileSync(EMBEDDED + 'manifest.csv', 'utf8').trim().split('\n');
  const cols = header!.split(',');
  return lines.map((line) => {
    const v = line.split(','); // the embedded manifest has no quoted fields
    const get = (k: string): string => v[cols.indexOf(k)]!;
    const pt = (p: string): readonly [number, number] => [Number(get(`${p}_x`)), Number(get(`${p}_y`))];
    return { path: get('path'), identity: get('identity'), landmarks: ['left_eye', 'right_eye', 'nose', 'mouth_left', 'mouth_right'].map(pt) as unknown as Landmarks5 };
  });
}

describe('FFHQ alignment of the embedded faces', () => {
  it('puts the detected eye centres within 2 px of the template (all but profile / strongly tilted faces)', () => {
    const faces = embeddedFaces();
    expect(faces.length).toBeGreaterThanOrEqual(30);
    const errors = faces.map((f) => {
      const m = alignmentTransform(f.landmarks, SIZE);
      return Math.max(...[0, 1].map((e) => {
        const q = applyAffine(m, f.landmarks[e]!);
        return Math.hypot(q[0] - template[e]![0], q[1] - template[e]![1]);
      }));
    });
    const within = errors.filter((e) => e <= 2).length;
    const sorted = [...errors].sort((a, b) => a - b);
    expect(within / errors.length).toBeGreaterThanOrEqual(0.85);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThanOrEqual(1);
  });
});

describe('FaceDetector (face-api SSD MobileNet v1 + 68 landmarks)', () => {
  let detector: FaceDetector;
  beforeAll(async () => {
    detector = await loadFaceDetector();
  });

  it('finds the three faces of face-api sample1.jpg, landmarks inside their boxes, without leaking tensors', async () => {
    const photo = await decodeImage(packageFile('@vladmandic/face-api', 'demo/sample1.jpg'));
    const before = tf.memory().numTensors;
    const faces = await detector.detect(photo);
    expect(tf.memory().numTensors).toBe(before);
    expect(faces).toHaveLength(3);
    for (const f of faces) {
      expect(f.score).toBeGreaterThan(0.9);
      expect(f.detector).toBe('ssd');
      expect(f.landmarks68).toHaveLength(68);
      const [le, re, nose, ml, mr] = f.landmarks5;
      for (const [x, y] of [le, re, nose, ml, mr]) {
        expect(x).toBeGreaterThan(f.box.x - 0.1 * f.box.width);
        expect(x).toBeLessThan(f.box.x + 1.1 * f.box.width);
        expect(y).toBeGreaterThan(f.box.y - 0.1 * f.box.height);
        expect(y).toBeLessThan(f.box.y + 1.1 * f.box.height);
      }
      // Upright faces: eyes above the nose, nose above the mouth.
      expect(Math.max(le[1], re[1])).toBeLessThan(nose[1] + 1);
      expect(nose[1]).toBeLessThan(Math.max(ml[1], mr[1]));
    }
  });

  it('returns no face for an image without one', async () => {
    const w = 320;
    const data = new Uint8Array(w * w * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
    expect(await detector.detect({ width: w, height: w, channels: 3, data })).toEqual([]);
  });

  it('re-detected in the committed crops, the eyes sit where the template puts them', async () => {
    // The six single portraits; face-api's landmark net is repeatable to ~2 px at this scale, so the check
    // is on the eye midpoint (median within 2.5 px, none off by more than 4 px) and the eye distance (10%).
    // The tiny detector only supplies the box the landmark net looks at, at a seventh of SSD's cost on cpu.
    const portraits = embeddedFaces().filter((f) => f.identity.startsWith('human-'));
    expect(portraits.length).toBe(6);
    const pad = 128; // black margin: the tiny detector misses faces that fill the frame
    const midErrors: number[] = [];
    for (const f of portraits) {
      const crop = await decodeImage(EMBEDDED + f.path);
      expect([crop.width, crop.height]).toEqual([SIZE, SIZE]);
      const canvas = warpAffine(crop, [1, 0, pad, 0, 1, pad], SIZE + 2 * pad, SIZE + 2 * pad, 'constant');
      const found = await detector.detect(canvas, { minScore: 0.3, detector: 'tiny' });
      expect(found.length).toBeGreaterThan(0);
      const l = found[0]!.landmarks5.map(([x, y]) => [x - pad, y - pad] as const);
      const [mx, my] = eyeMid(l);
      const [tx, ty] = eyeMid(template);
      midErrors.push(Math.hypot(mx - tx, my - ty));
      const d = Math.hypot(l[1]![0] - l[0]![0], l[1]![1] - l[0]![1]);
      expect(Math.abs(d / (template[1]![0] - template[0]![0]) - 1)).toBeLessThan(0.1);
    }
    midErrors.sort((a, b) => a - b);
    expect(midErrors[midErrors.length - 1]).toBeLessThan(4);
    expect((midErrors[2]! + midErrors[3]!) / 2).toBeLessThan(2.5);
  });
});
