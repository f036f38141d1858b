/**
 * The two per-clip steps that `yarn swap --video` (Node, ffmpeg) and the web app (WebCodecs) share, whatever
 * decodes the frames: following every face from frame to frame into tracks, and smoothing the chosen track's
 * landmarks over time.
 */
import type { Landmarks5, Point } from '../faces/alignment.js';
import type { DetectedFace, DetectOptions, FaceDetector } from '../faces/detector.js';
import type { RawImage } from '../image/png.js';
import { appearanceDescriptor, DEFAULT_TRACKER, FaceTracker, type Box, type FaceTrack, type FrameFace, type TrackerOptions } from './face_tracker.js';
import { OneEuroFilter, type OneEuroParams } from './one_euro.js';

/** The bounding box of points. */
export function boxOf(points: readonly Point[]): Box {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

/** The detector's box moved and scaled with the landmarks: the box the landmark net looks in on the next frame. */
export function followBox(previous: Box, before: readonly Point[], after: readonly Point[]): Box {
  const a = boxOf(before);
  const b = boxOf(after);
  const s = a.width > 0 ? b.width / a.width : 1;
  const cx = previous.x + previous.width / 2 + (b.x + b.width / 2 - (a.x + a.width / 2));
  const cy = previous.y + previous.height / 2 + (b.y + b.height / 2 - (a.y + a.height / 2));
  return { x: cx - (previous.width * s) / 2, y: cy - (previous.height * s) / 2, width: previous.width * s, height: previous.height * s };
}

export interface ClipFaceTrackerOptions {
  /** Run the detector every N frames; in between, the landmark net follows each face in its moved box. Default 1. */
  detectEvery?: number;
  detectorKind?: NonNullable<DetectOptions['detector']>;
  tracker?: Partial<TrackerOptions>;
  /** Wraps the detector's calls, e.g. to time them ('detect': a detection; 'landmarks': landmarks in a box). */
  time?: <T>(stage: 'detect' | 'landmarks', work: () => Promise<T>) => Promise<T>;
}

/** Feeds a clip's frames in order, one {@link next} call each; {@link tracks} gives the face tracks at the end. */
export class ClipFaceTracker {
  private readonly tracker: FaceTracker;
  // The faces of the previous frame, by track id: where the landmark net looks between detections.
  private previous = new Map<number, FrameFace>();
  private frame = 0;
  private readonly every: number;

  constructor(
    private readonly detector: Pick<FaceDetector, 'detect' | 'landmarksInBox'>,
    private readonly options: ClipFaceTrackerOptions = {},
  ) {
    this.every = options.detectEvery ?? 1;
    if (!Number.isInteger(this.every) || this.every < 1) throw new Error(`detectEvery ${this.every}: expected a whole number of frames, 1 or more`);
    this.tracker = new FaceTracker({ ...DEFAULT_TRACKER, ...options.tracker });
  }

  /** Finds (or follows) the faces of the next frame and links them to the tracks. */
  async next(frame: RawImage): Promise<void> {
    const time = this.options.time ?? (<T>(_stage: string, work: () => Promise<T>) => work());
    let faces: FrameFace[];
    if (this.frame % this.every === 0) {
      const found = await time('detect', () => this.detector.detect(frame, { detector: this.options.detectorKind ?? 'ssd' }));
      faces = found.map((f: DetectedFace) => ({ box: f.box, landmarks5: f.landmarks5, landmarks68: f.landmarks68, descriptor: appearanceDescriptor(frame, f.landmarks5) }));
    } else {
      faces = [];
      for (const prior of this.previous.values()) {
        const r = await time('landmarks', () => this.detector.landmarksInBox(frame, prior.box));
        if (!r) continue;
        faces.push({ box: followBox(prior.box, prior.landmarks68, r.landmarks68), landmarks5: r.landmarks5, landmarks68: r.landmarks68, descriptor: appearanceDescriptor(frame, r.landmarks5) });
      }
    }
    const ids = this.tracker.update(this.frame, faces);
    this.previous = new Map(ids.map((id, i) => [id, faces[i]!]));
    this.frame++;
  }

  /** Frames fed so far. */
  get frames(): number {
    return this.frame;
  }

  tracks(): FaceTrack[] {
    return this.tracker.tracks();
  }
}

export interface SmoothedLandmarks {
  /** Per frame: the smoothed 5 points, or null where the track has no face. */
  five: (Landmarks5 | null)[];
  /** Per frame: the detector's own 5 points (for the jitter figure). */
  raw: (Landmarks5 | null)[];
  /** Per frame: the smoothed 68 points (the blend mask's outline), or null. */
  sixtyEight: (Point[] | null)[];
}

/**
 * A track's landmarks per frame, smoothed with One-Euro filters (`params`; false: none). A frame without the face
 * restarts the filters, so a face that reappears elsewhere is not pulled from where it was.
 */
export function smoothTrackLandmarks(track: FaceTrack, frames: number, fps: number, params: OneEuroParams | false): SmoothedLandmarks {
  const f5 = params ? new OneEuroFilter(params) : null;
  const f68 = params ? new OneEuroFilter(params) : null;
  const out: SmoothedLandmarks = { five: [], raw: [], sixtyEight: [] };
  const dt = 1 / (fps > 0 ? fps : 25);
  for (let k = 0; k < frames; k++) {
    const face = track.faces.get(k);
    if (!face) {
      f5?.reset();
      f68?.reset();
      out.five.push(null);
      out.raw.push(null);
      out.sixtyEight.push(null);
      continue;
    }
    out.raw.push(face.landmarks5);
    if (!f5 || !f68) {
      out.five.push(face.landmarks5);
      out.sixtyEight.push(face.landmarks68);
      continue;
    }
    const s5 = f5.filter(face.landmarks5.flat(), dt);
    out.five.push(Array.from({ length: 5 }, (_, i) => [s5[2 * i]!, s5[2 * i + 1]!] as Point) as unknown as Landmarks5);
    const s68 = f68.filter(face.landmarks68.flat(), dt);
    out.sixtyEight.push(Array.from({ length: face.landmarks68.length }, (_, i) => [s68[2 * i]!, s68[2 * i + 1]!] as Point));
  }
  return out;
}
