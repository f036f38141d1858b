import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { chooseTrack, FaceTracker, iou, type FrameFace } from './face_tracker.js';
import { OneEuroFilter } from './one_euro.js';

describe('OneEuroFilter', () => {
  it('passes the first value, removes most jitter at rest, and follows a steady motion with a bounded lag', () => {
    const rng = seedrandom('one-euro');
    const f = new OneEuroFilter({ minCutoff: 1, beta: 0.05, dCutoff: 1 });
    expect(Array.from(f.filter([5, 7], 1 / 25))).toEqual([5, 7]);
    let rawErr = 0;
    let outErr = 0;
    for (let k = 1; k < 200; k++) {
      const noisy = [5 + (rng() - 0.5) * 2, 7 + (rng() - 0.5) * 2];
      const out = f.filter(noisy, 1 / 25);
      if (k > 50) {
        rawErr += Math.abs(noisy[0]! - 5);
        outErr += Math.abs(out[0]! - 5);
      }
    }
    expect(outErr).toBeLessThan(0.4 * rawErr);
    // A face moving 4 px per frame: the speed raises the cutoff, so the lag stays a few frames' motion.
    const g = new OneEuroFilter({ minCutoff: 1, beta: 0.05, dCutoff: 1 });
    let last = 0;
    for (let k = 0; k < 100; k++) last = g.filter([4 * k], 1 / 25)[0]!;
    expect(4 * 99 - last).toBeLessThan(4 * 5);
    g.reset();
    expect(g.filter([1000], 1 / 25)[0]).toBe(1000);
  });
});

const face = (x: number, descriptor: number[]): FrameFace => ({
  box: { x, y: 10, width: 40, height: 40 },
  landmarks5: [[x + 10, 20], [x + 30, 20], [x + 20, 30], [x + 12, 40], [x + 28, 40]],
  landmarks68: [],
  descriptor: Float32Array.from(descriptor),
});

describe('FaceTracker', () => {
  it('links faces by position and appearance, keeps two crossing people apart and stitches a hidden one back', () => {
    const t = new FaceTracker();
    const a = [1, 0, 0];
    const b = [0, 1, 0];
    for (let k = 0; k < 30; k++) {
      const faces = [face(200 - 6 * k, b)];
      // A is hidden behind B for frames 14..19.
      if (k < 14 || k > 19) faces.push(face(10 + 6 * k, a));
      t.update(k, faces);
    }
    const tracks = t.tracks();
    expect(tracks).toHaveLength(2);
    for (const track of tracks) {
      const xs = [...track.faces.values()].map((f) => f.box.x);
      const rising = xs[1]! > xs[0]!;
      expect(xs.every((x, i) => i === 0 || (rising ? x > xs[i - 1]! : x < xs[i - 1]!))).toBe(true);
    }
    expect(chooseTrack(tracks, 'auto').faces.size).toBe(30);
    expect(() => chooseTrack(tracks, 7)).toThrow(/--track 7: no such track; the clip has tracks 0, 1/);
    expect(() => chooseTrack([], 'auto')).toThrow(/no face found in any frame/);
    expect(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(1 / 3, 10);
  });
});
