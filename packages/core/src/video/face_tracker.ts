/**
 * Face tracks through a video: faces found in successive frames linked into one track per person, so that a swap
 * stays on the same person and identities do not jump when faces cross.
 *
 * Linking is a greedy assignment on a cost that mixes where a face is and what it looks like:
 * - position: 1 − IoU of the face's box with the track's box predicted at a constant velocity (so two faces that
 *   cross keep their directions);
 * - appearance: 1 − cosine of a small appearance descriptor ({@link appearanceDescriptor}: the face's aligned
 *   grey-level 16×16 crop, zero-mean and unit-norm), cheap enough for every frame, and different for different
 *   people even where their boxes coincide.
 * A pair is linked when IoU ≥ `minIoU` or the appearance is close (cosine ≥ `minSimilarity`) and the faces are near
 * (centre distance below 1.5 face widths); a track that finds no face for `maxGap` frames ends.
 */
import { alignFaceAs } from '../faces/templates.js';
import type { Landmarks5, Point } from '../faces/alignment.js';
import type { RawImage } from '../image/png.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A face seen in one frame. */
export interface FrameFace {
  box: Box;
  landmarks5: Landmarks5;
  /** The 68 landmarks when the detector gave them (the blend mask's outline); else empty. */
  landmarks68: Point[];
  /** {@link appearanceDescriptor} of the face. */
  descriptor: Float32Array;
}

export interface TrackerOptions {
  minIoU: number;
  minSimilarity: number;
  /** Frames a track survives without a face. */
  maxGap: number;
  /** Weight of the appearance term in the cost. */
  appearanceWeight: number;
}

export const DEFAULT_TRACKER: TrackerOptions = { minIoU: 0.3, minSimilarity: 0.85, maxGap: 15, appearanceWeight: 1 };

/** One person's run through the clip. */
export interface FaceTrack {
  id: number;
  firstFrame: number;
  lastFrame: number;
  /** Faces by frame index (frames where it was not found are absent). */
  faces: Map<number, FrameFace>;
}

const DESCRIPTOR_SIDE = 16;

/** A 16×16 grey-level FFHQ-aligned crop of the face, zero-mean, unit L2 norm. */
export function appearanceDescriptor(photo: RawImage, landmarks5: Landmarks5): Float32Array {
  const crop = alignFaceAs(photo, landmarks5, DESCRIPTOR_SIDE, 'ffhq').crop;
  const n = DESCRIPTOR_SIDE * DESCRIPTOR_SIDE;
  const d = new Float32Array(n);
  const c = crop.channels;
  let mean = 0;
  for (let i = 0; i < n; i++) {
    d[i] = 0.299 * crop.data[i * c]! + 0.587 * crop.data[i * c + 1]! + 0.114 * crop.data[i * c + 2]!;
    mean += d[i]!;
  }
  mean /= n;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    d[i]! -= mean;
    norm += d[i]! * d[i]!;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < n; i++) d[i]! /= norm;
  return d;
}

export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

interface LiveTrack {
  track: FaceTrack;
  last: FrameFace;
  lastFrame: number;
  velocity: { x: number; y: number };
}

/** Links the faces of successive frames into tracks; feed it frames in order with {@link update}. */
export class FaceTracker {
  private readonly live: LiveTrack[] = [];
  private readonly all: FaceTrack[] = [];
  private nextId = 0;

  constructor(private readonly options: TrackerOptions = DEFAULT_TRACKER) {}

  /** The faces of frame `frame`; returns the track id of each face, in the order given. */
  update(frame: number, faces: readonly FrameFace[]): number[] {
    const o = this.options;
    for (let i = this.live.length - 1; i >= 0; i--) if (frame - this.live[i]!.lastFrame > o.maxGap) this.live.splice(i, 1);
    const candidates: { t: number; f: number; cost: number }[] = [];
    this.live.forEach((lt, t) => {
      const gap = frame - lt.lastFrame;
      const b = lt.last.box;
      const predicted: Box = { x: b.x + lt.velocity.x * gap, y: b.y + lt.velocity.y * gap, width: b.width, height: b.height };
      faces.forEach((face, f) => {
        const overlap = iou(predicted, face.box);
        const similar = cosine(lt.last.descriptor, face.descriptor);
        const dx = predicted.x + predicted.width / 2 - (face.box.x + face.box.width / 2);
        const dy = predicted.y + predicted.height / 2 - (face.box.y + face.box.height / 2);
        // A face hidden for a while (occluded, turned away) may come back further off: the radius grows with the gap.
        const near = Math.hypot(dx, dy) < (1.5 + 0.25 * (gap - 1)) * Math.max(predicted.width, face.box.width);
        if (overlap >= o.minIoU || (similar >= o.minSimilarity && near)) {
          candidates.push({ t, f, cost: 1 - overlap + o.appearanceWeight * (1 - similar) });
        }
      });
    });
    candidates.sort((a, b) => a.cost - b.cost);
    const ids = new Array<number>(faces.length).fill(-1);
    const usedTracks = new Set<number>();
    for (const c of candidates) {
      if (usedTracks.has(c.t) || ids[c.f] !== -1) continue;
      usedTracks.add(c.t);
      const lt = this.live[c.t]!;
      const face = faces[c.f]!;
      const gap = frame - lt.lastFrame;
      // Velocity from the two frames only when consecutive: across a gap the face may have stood still or turned.
      lt.velocity = gap === 1 ? { x: (face.box.x - lt.last.box.x) / gap, y: (face.box.y - lt.last.box.y) / gap } : { x: 0, y: 0 };
      lt.last = face;
      lt.lastFrame = frame;
      lt.track.lastFrame = frame;
      lt.track.faces.set(frame, face);
      ids[c.f] = lt.track.id;
    }
    faces.forEach((face, f) => {
      if (ids[f] !== -1) return;
      const track: FaceTrack = { id: this.nextId++, firstFrame: frame, lastFrame: frame, faces: new Map([[frame, face]]) };
      this.all.push(track);
      this.live.push({ track, last: face, lastFrame: frame, velocity: { x: 0, y: 0 } });
      ids[f] = track.id;
    });
    return ids;
  }

  /**
   * Every track so far, after stitching: a track that ends and a later one that starts within `2·maxGap` frames are
   * one person when any of their faces look alike (cosine ≥ `minSimilarity` − 0.15, the margin for the partly hidden
   * faces around an occlusion). That joins a face that was hidden behind another (the frames in between have none)
   * into one track, which linking frame to frame cannot do: when it comes back it looks like neither its last,
   * half-hidden self nor anyone else. Stitched tracks keep the first one's id.
   */
  tracks(): FaceTrack[] {
    const tracks = this.all.map((t) => ({ ...t, faces: new Map(t.faces) }));
    const threshold = this.options.minSimilarity - 0.15;
    const similarity = (a: FaceTrack, b: FaceTrack): number => {
      let best = -1;
      const sample = (t: FaceTrack): Float32Array[] => {
        const all = [...t.faces.values()].map((f) => f.descriptor);
        const step = Math.max(1, Math.floor(all.length / 16));
        return all.filter((_, i) => i % step === 0);
      };
      const sb = sample(b);
      for (const da of sample(a)) for (const db of sb) best = Math.max(best, cosine(da, db));
      return best;
    };
    for (;;) {
      let best: { a: number; b: number; sim: number } | null = null;
      for (let i = 0; i < tracks.length; i++) {
        for (let j = 0; j < tracks.length; j++) {
          const a = tracks[i]!;
          const b = tracks[j]!;
          const gap = b.firstFrame - a.lastFrame;
          if (i === j || gap <= 0 || gap > 2 * this.options.maxGap) continue;
          const sim = similarity(a, b);
          if (sim >= threshold && (!best || sim > best.sim)) best = { a: i, b: j, sim };
        }
      }
      if (!best) break;
      const a = tracks[best.a]!;
      const b = tracks[best.b]!;
      for (const [k, f] of b.faces) a.faces.set(k, f);
      a.lastFrame = b.lastFrame;
      tracks.splice(best.b, 1);
    }
    return tracks;
  }
}

/** Which track `--track` means: `largest` (the largest mean face), `auto` (the longest, then the largest), or an id. */
export function chooseTrack(tracks: readonly FaceTrack[], choice: 'auto' | 'largest' | number): FaceTrack {
  if (tracks.length === 0) throw new Error('no face found in any frame of the clip; use a clip with a clearly visible, roughly frontal face');
  const area = (t: FaceTrack): number => {
    let s = 0;
    for (const f of t.faces.values()) s += f.box.width * f.box.height;
    return s / t.faces.size;
  };
  if (typeof choice === 'number') {
    const t = tracks.find((k) => k.id === choice);
    if (!t) throw new Error(`--track ${choice}: no such track; the clip has tracks ${tracks.map((k) => k.id).join(', ')} (see the tracks JSON file)`);
    return t;
  }
  if (choice === 'largest') return tracks.reduce((a, b) => (area(b) > area(a) ? b : a));
  return tracks.reduce((a, b) => (b.faces.size > a.faces.size || (b.faces.size === a.faces.size && area(b) > area(a)) ? b : a));
}
