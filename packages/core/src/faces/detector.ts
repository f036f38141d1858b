import * as tf from '@tensorflow/tfjs';
import type { RawImage } from '../image/png.js';
import type { Landmarks5, Point } from './alignment.js';
import { withSyncReadableBackend } from '../backend/webgpu.js';
import { reduceLandmarks68 } from './landmarks.js';
import { platform } from '../platform.js';
import { loadFaceApiWeights, type ModelFiles } from './model_files.js';

/**
 * Face detection and 68 landmarks with @vladmandic/face-api (pinned 1.7.15): SSD MobileNet v1, falling back to
 * the Tiny Face Detector when SSD finds nothing, then the 68-point landmark net on each box.
 *
 * One tfjs in the process: face-api's `face-api.esm-nobundle.js` (browsers) and `face-api.node-wasm.js` (Node, which
 * the Node platform installs) builds take tfjs as an external import (they bundle no tfjs), so they run on this
 * project's tfjs 4.22.0 and whatever backend `selectBackend` chose. Its other builds either bundle a second
 * tfjs-core (face-api.js, face-api.esm.js) or require tfjs-node (face-api.node.js), which does not install offline.
 * Weights come from the package's `model/` folder through {@link ModelFiles} and are handed over with
 * `loadFromWeightMap`.
 */

/** One detected face, in the photo's pixel coordinates. */
export interface DetectedFace {
  box: { x: number; y: number; width: number; height: number };
  /** Detector confidence in [0, 1]. */
  score: number;
  /** Which detector found it. */
  detector: 'ssd' | 'tiny';
  landmarks68: Point[];
  landmarks5: Landmarks5;
}

export interface DetectOptions {
  /**
   * `ssd` (default): SSD MobileNet v1, the more accurate. `tiny`: the Tiny Face Detector only, about 7x cheaper
   * (on the cpu backend 1.4 s instead of 9.5 s per photo) and weaker on small or turned faces.
   */
  detector?: 'ssd' | 'tiny';
  /** Minimum detector score; default 0.5. */
  minScore?: number;
  /** Use the Tiny Face Detector when SSD finds no face; default true. */
  fallbackToTiny?: boolean;
  /** At most this many faces, the highest scores first; default 100. */
  maxFaces?: number;
}

// The slice of face-api's API used here, typed locally: its bundled .d.ts declares its own copy of tfjs's
// Tensor classes, which would not unify with this project's @tensorflow/tfjs types.
interface FaceApiNet {
  loadFromWeightMap(weightMap: tf.NamedTensorMap): void;
  readonly isLoaded: boolean;
}
interface FaceApiLandmarkNet extends FaceApiNet {
  detectLandmarks(input: tf.Tensor3D): Promise<{ positions: { x: number; y: number }[] }>;
}
interface FaceApiResult {
  detection: { score: number; box: { x: number; y: number; width: number; height: number } };
  landmarks: { positions: { x: number; y: number }[] };
}
interface FaceApiTask {
  withFaceLandmarks(): Promise<FaceApiResult[]>;
}
interface FaceApiModule {
  nets: { ssdMobilenetv1: FaceApiNet; tinyFaceDetector: FaceApiNet; faceLandmark68Net: FaceApiLandmarkNet };
  SsdMobilenetv1Options: new (o: { minConfidence?: number; maxResults?: number }) => unknown;
  TinyFaceDetectorOptions: new (o: { inputSize?: number; scoreThreshold?: number }) => unknown;
  detectAllFaces(input: tf.Tensor3D, options: unknown): FaceApiTask;
}

let faceApi: Promise<FaceApiModule> | undefined;

/** Loads face-api's detector and landmark weights once per process (they stay in memory: ~12 MB). */
async function loadFaceApi(files?: ModelFiles): Promise<FaceApiModule> {
  faceApi ??= (async () => {
    const importFaceApi = platform().faceApi ?? (() => import('@vladmandic/face-api/dist/face-api.esm-nobundle.js'));
    const mod = (await importFaceApi()) as FaceApiModule & { default?: FaceApiModule };
    const api = mod.default?.nets ? mod.default : mod;
    const [ssd, tiny, landmarks] = await Promise.all(['ssd_mobilenetv1_model', 'tiny_face_detector_model', 'face_landmark_68_model'].map((n) => loadFaceApiWeights(n, files)));
    api.nets.ssdMobilenetv1.loadFromWeightMap(ssd!);
    api.nets.tinyFaceDetector.loadFromWeightMap(tiny!);
    api.nets.faceLandmark68Net.loadFromWeightMap(landmarks!);
    return api;
  })();
  try {
    return await faceApi;
  } catch (e) {
    faceApi = undefined;
    throw e;
  }
}

/** Detects faces and their landmarks; see {@link detectFaces}. Create with {@link loadFaceDetector}. */
export class FaceDetector {
  private constructor(private readonly api: FaceApiModule) {}

  static async load(options: { files?: ModelFiles } = {}): Promise<FaceDetector> {
    // face-api reads its outputs with dataSync, which webgpu in Node cannot do: it runs on wasm there.
    return new FaceDetector(await withSyncReadableBackend(() => loadFaceApi(options.files)));
  }

  /** Faces in an 8-bit RGB photo, highest score first. An image with no face gives []. */
  async detect(photo: RawImage, options: DetectOptions = {}): Promise<DetectedFace[]> {
    if (photo.channels !== 3) throw new Error(`FaceDetector.detect: expected an RGB image, got ${photo.channels} channels.`);
    return withSyncReadableBackend(() => this.detectOnCurrentBackend(photo, options));
  }

  /**
   * The 68 landmarks of the face inside `box` (photo pixels), without detecting: face-api's landmark net on that
   * region, as its withFaceLandmarks runs it on a detection's box. Video uses it between detections (a face moves
   * little from one frame to the next, so last frame's box still holds it).
   */
  async landmarksInBox(photo: RawImage, box: { x: number; y: number; width: number; height: number }): Promise<{ landmarks68: Point[]; landmarks5: Landmarks5 } | null> {
    if (photo.channels !== 3) throw new Error(`FaceDetector.landmarksInBox: expected an RGB image, got ${photo.channels} channels.`);
    const x0 = Math.max(0, Math.floor(box.x));
    const y0 = Math.max(0, Math.floor(box.y));
    const x1 = Math.min(photo.width, Math.ceil(box.x + box.width));
    const y1 = Math.min(photo.height, Math.ceil(box.y + box.height));
    if (x1 - x0 < 8 || y1 - y0 < 8) return null;
    const w = x1 - x0;
    const region = new Int32Array(w * (y1 - y0) * 3);
    for (let y = y0; y < y1; y++) {
      for (let k = 0; k < w * 3; k++) region[(y - y0) * w * 3 + k] = photo.data[(y * photo.width + x0) * 3 + k]!;
    }
    return withSyncReadableBackend(async () => {
      const input = tf.tensor3d(region, [y1 - y0, w, 3], 'int32');
      try {
        const found = await this.api.nets.faceLandmark68Net.detectLandmarks(input);
        const landmarks68 = found.positions.map((p): Point => [p.x + x0, p.y + y0]);
        return { landmarks68, landmarks5: reduceLandmarks68(landmarks68) };
      } finally {
        input.dispose();
      }
    });
  }

  private async detectOnCurrentBackend(photo: RawImage, options: DetectOptions): Promise<DetectedFace[]> {
    const minScore = options.minScore ?? 0.5;
    const maxFaces = options.maxFaces ?? 100;
    const input = tf.tensor3d(photo.data, [photo.height, photo.width, 3], 'int32');
    try {
      let detector: DetectedFace['detector'] = options.detector ?? 'ssd';
      let found =
        detector === 'ssd'
          ? await this.api.detectAllFaces(input, new this.api.SsdMobilenetv1Options({ minConfidence: minScore, maxResults: maxFaces })).withFaceLandmarks()
          : [];
      if (found.length === 0 && (detector === 'tiny' || (options.fallbackToTiny ?? true))) {
        detector = 'tiny';
        found = await this.api
          .detectAllFaces(input, new this.api.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: minScore }))
          .withFaceLandmarks();
      }
      return found
        .map((r): DetectedFace => {
          const landmarks68 = r.landmarks.positions.map((p): Point => [p.x, p.y]);
          const { x, y, width, height } = r.detection.box;
          return { box: { x, y, width, height }, score: r.detection.score, detector, landmarks68, landmarks5: reduceLandmarks68(landmarks68) };
        })
        .sort((a, b) => b.score - a.score)
        .slice(0, maxFaces);
    } finally {
      input.dispose();
    }
  }
}

/** The detector, loaded from @vladmandic/face-api's files (once per process). */
export function loadFaceDetector(options: { files?: ModelFiles } = {}): Promise<FaceDetector> {
  return FaceDetector.load(options);
}
