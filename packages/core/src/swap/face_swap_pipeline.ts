import * as tf from '@tensorflow/tfjs';
import { applyAffine, pasteBack, type Landmarks5 } from '../faces/alignment.js';
import type { DetectedFace, FaceDetector } from '../faces/detector.js';
import { DEFAULT_FACE_INPUT, describeFaceInput, toChannelOrder, type FaceInput } from '../faces/face_input.js';
import { alignFaceAs } from '../faces/templates.js';
import type { IdentityEncoder } from '../identity/identity_encoder.js';
import type { RawImage } from '../image/png.js';
import { imageToTensor, tensorToImage } from '../image/raw_image.js';
import type { AEINet } from '../models/aei_net.js';
import type { HEARNet } from '../models/hear_net.js';
import { faceMask, outlineFrom5, type FaceMaskOptions } from './mask.js';

/**
 * Face swapping on whole photos, the same code in Node (`yarn swap`) and in the browser (the web app): detect and
 * align both faces, run AEI-Net (and HEAR-Net when given) on the aligned crops, and paste the swapped face back into
 * the target photo through a soft landmark mask. Loading the networks and decoding photos is the host's part.
 */

/** Which target faces to swap: one index (faces numbered left to right), or all of them. */
export type FaceSelection = number | 'all';

/** A photo's detected faces, ordered left to right (so indices are predictable), with the decoded photo. */
export interface AnalysedPhoto {
  file: string;
  photo: RawImage & { channels: 3 };
  faces: DetectedFace[];
}

export interface SwapResult {
  /** The target photo at its original size with the swapped faces pasted in. */
  image: RawImage;
  /** The target's faces, left to right. */
  faces: DetectedFace[];
  /** Indices (into `faces`) of the faces swapped. */
  swapped: number[];
}

export interface FaceSwapPipelineOptions {
  aei: AEINet;
  /** HEAR-Net; when given, the swap is refined with it (faceshifter.md, stage 2). */
  hear?: HEARNet | null;
  /**
   * The identity encoder AEI-Net was trained with, loaded for crops in `faces.align` (loadIdentityEncoder's `input`).
   */
  identity: IdentityEncoder;
  /** The alignment and channel order the weights expect (the checkpoint's); default FFHQ, RGB. */
  faces?: FaceInput;
  detector: FaceDetector;
  /** `ssd` (default, more accurate) or `tiny` (about 7x faster, weaker on small or turned faces). */
  detectorKind?: 'ssd' | 'tiny';
  /** The blend mask's shape. */
  mask?: FaceMaskOptions;
  /** How the user picks faces, for the messages: the CLI's option names by default. */
  choose?: { targetFace: string; sourceFace: string };
  /** Notes (one line each); default: none. */
  log?: (line: string) => void;
}

const CLI_CHOICE = { targetFace: '--face-index', sourceFace: '--source-face-index' };

function describeBox(face: DetectedFace, i: number): string {
  const b = face.box;
  return `[${i}] x=${Math.round(b.x)} y=${Math.round(b.y)} ${Math.round(b.width)}x${Math.round(b.height)}`;
}

/** Given landmarks must lie on the photo: one line naming the file, the face, the point and the photo's size. */
export function checkLandmarksInside(file: string, photo: RawImage, faces: readonly Landmarks5[]): void {
  faces.forEach((l, k) =>
    l.forEach(([x, y], i) => {
      if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < 0 || x > photo.width || y > photo.height) {
        throw new Error(`${file}: landmark ${i} of face ${k} is (${x}, ${y}), outside the ${photo.width}×${photo.height} photo; give points in this photo's pixels`);
      }
    }),
  );
}

/** The networks, identity encoder and detector of a swap, for any number of photos. Owns none of them. */
export class FaceSwapPipeline {
  readonly aei: AEINet;
  readonly hear: HEARNet | null;
  readonly identity: IdentityEncoder;
  readonly detector: FaceDetector;
  readonly faces: FaceInput;
  private readonly choose: { targetFace: string; sourceFace: string };

  constructor(private readonly options: FaceSwapPipelineOptions) {
    this.aei = options.aei;
    this.hear = options.hear ?? null;
    this.identity = options.identity;
    this.detector = options.detector;
    this.faces = options.faces ?? DEFAULT_FACE_INPUT;
    this.choose = options.choose ?? CLI_CHOICE;
    if (this.identity.dim !== this.aei.modelConfig.cId) {
      throw new Error(`AEI-Net takes ${this.aei.modelConfig.cId}-d identities but the identity encoder ${this.identity.name} gives ${this.identity.dim}-d; use the encoder it was trained with`);
    }
    if (this.hear && this.hear.modelConfig.resolution !== this.aei.modelConfig.resolution) {
      throw new Error(`HEAR-Net works at ${this.hear.modelConfig.resolution} px but AEI-Net at ${this.aei.modelConfig.resolution} px; use a HEAR-Net trained on this AEI-Net`);
    }
  }

  /** The side of the aligned crops AEI-Net works on. */
  get resolution(): number {
    return this.aei.modelConfig.resolution;
  }

  /** Detects the faces of a decoded photo, ordered left to right. */
  async analyse(file: string, photo: RawImage & { channels: 3 }): Promise<AnalysedPhoto> {
    const faces = await this.detector.detect(photo, { detector: this.options.detectorKind ?? 'ssd' });
    faces.sort((a, b) => a.box.x + a.box.width / 2 - (b.box.x + b.box.width / 2));
    return { file, photo, faces };
  }

  /**
   * A photo whose faces are given by five landmarks each (continuous coordinates, faces/alignment.ts) instead of
   * detected: the reference's MTCNN points, or any other detector's. The blend mask then comes from the five points
   * (swap/mask.ts outlineFrom5). Points outside the photo are an error naming the file and the point.
   */
  withLandmarks(file: string, photo: RawImage & { channels: 3 }, faces: readonly Landmarks5[]): AnalysedPhoto {
    checkLandmarksInside(file, photo, faces);
    const detected = faces.map((l): DetectedFace => {
      const xs = l.map((p) => p[0]);
      const ys = l.map((p) => p[1]);
      const box = { x: Math.min(...xs), y: Math.min(...ys), width: Math.max(...xs) - Math.min(...xs), height: Math.max(...ys) - Math.min(...ys) };
      return { box, score: 1, detector: 'ssd', landmarks68: [], landmarks5: l };
    });
    detected.sort((a, b) => a.box.x + a.box.width / 2 - (b.box.x + b.box.width / 2));
    return { file, photo, faces: detected };
  }

  /** The aligned crop as the weights expect it: [1, R, R, 3] in [−1, 1], in their channel order. */
  private modelInput(crop: RawImage): tf.Tensor4D {
    return tf.tidy(() => toChannelOrder(imageToTensor(crop).expandDims(0) as tf.Tensor4D, this.faces.channels));
  }

  /** One line saying how faces are fed to the networks. */
  describe(): string {
    return describeFaceInput(this.faces);
  }

  /**
   * z_id of the source photo's face ([1, c_id]; the caller disposes it). With several faces and no index, the
   * largest is taken (and logged).
   */
  sourceIdentity(source: AnalysedPhoto, faceIndex?: number): tf.Tensor2D {
    const { faces, file } = source;
    if (faces.length === 0) throw new Error(`${file}: no face found in the source photo; use a photo with a clearly visible, roughly frontal face`);
    let i = faceIndex ?? 0;
    if (faceIndex === undefined && faces.length > 1) {
      const area = (f: DetectedFace): number => f.box.width * f.box.height;
      i = faces.reduce((best, f, k) => (area(f) > area(faces[best]!) ? k : best), 0);
      this.options.log?.(`[swap] ${file}: ${faces.length} faces in the source; using the largest, ${describeBox(faces[i]!, i)} (choose with ${this.choose.sourceFace})`);
    }
    if (!Number.isInteger(i) || i < 0 || i >= faces.length) {
      throw new Error(`${file}: ${this.choose.sourceFace} ${faceIndex} is out of range: the source has ${faces.length} face${faces.length > 1 ? 's' : ''} (0..${faces.length - 1})`);
    }
    const crop = alignFaceAs(source.photo, faces[i]!.landmarks5, this.resolution, this.faces.align).crop;
    return tf.tidy(() => this.identity.embed(this.modelInput(crop)));
  }

  /** Which of the target's faces a selection means; the errors name the file, the faces found and the fix. */
  selectFaces(target: AnalysedPhoto, selection: FaceSelection | undefined): number[] {
    const { faces, file } = target;
    const option = this.choose.targetFace;
    if (faces.length === 0) throw new Error(`${file}: no face found in the target photo; use a photo with a clearly visible, roughly frontal face`);
    if (selection === 'all') return faces.map((_, i) => i);
    if (selection === undefined) {
      if (faces.length === 1) return [0];
      throw new Error(`${file}: ${faces.length} faces found in the target (left to right: ${faces.map(describeBox).join(', ')}); pass ${option} 0..${faces.length - 1} or ${option} all`);
    }
    if (!Number.isInteger(selection) || selection < 0 || selection >= faces.length) {
      throw new Error(`${file}: ${option} ${selection} is out of range: the target has ${faces.length} face${faces.length > 1 ? 's' : ''} (0..${faces.length - 1})`);
    }
    return [selection];
  }

  /** AEI-Net (then HEAR-Net) on one aligned target crop: the swapped crop, same size. */
  async swapCrop(crop: RawImage, zId: tf.Tensor2D): Promise<RawImage> {
    const y = tf.tidy(() => {
      const xt = this.modelInput(crop);
      let swap = this.aei.forward(xt, zId).swap;
      if (this.hear) {
        // ΔY_t = X_t − AEI(X_t, z_id(X_t)): what AEI-Net fails to reproduce of the target itself (occlusions).
        const self = this.aei.forward(xt, this.identity.embed(xt)).swap;
        swap = this.hear.refine(swap, tf.sub(xt, self) as tf.Tensor4D);
      }
      return toChannelOrder(swap.squeeze([0]) as tf.Tensor3D, this.faces.channels);
    });
    try {
      return await tensorToImage(y);
    } finally {
      y.dispose();
    }
  }

  /**
   * Swaps one face of `photo` (which may already hold other pasted faces) to `zId`, aligning on `alignOn` (the
   * untouched photo): the pasted photo, and the aligned target crop and its swap (for per-frame measures in video).
   */
  async swapFace(zId: tf.Tensor2D, photo: RawImage, face: DetectedFace, alignOn: RawImage = photo): Promise<{ image: RawImage; crop: RawImage; swapped: RawImage; mask: Float32Array }> {
    const aligned = alignFaceAs(alignOn, face.landmarks5, this.resolution, this.faces.align);
    const swapped = await this.swapCrop(aligned.crop, zId);
    const outline = face.landmarks68.length > 0 ? face.landmarks68 : outlineFrom5(face.landmarks5);
    const mask = faceMask(
      outline.map((p) => applyAffine(aligned.toCrop, p)),
      this.resolution,
      this.options.mask,
    );
    return { image: pasteBack(photo, swapped, aligned.toPhoto, { feather: 0.05, mask }), crop: aligned.crop, swapped, mask };
  }

  /** Swaps the selected target faces to the identity `zId` and pastes them back into the full target photo. */
  async swap(zId: tf.Tensor2D, target: AnalysedPhoto, selection?: FaceSelection): Promise<SwapResult> {
    const chosen = this.selectFaces(target, selection);
    let image: RawImage = target.photo;
    for (const i of chosen) {
      // Align on the untouched photo so that one face's paste cannot shift another's crop.
      image = (await this.swapFace(zId, image, target.faces[i]!, target.photo)).image;
    }
    return { image, faces: target.faces, swapped: chosen };
  }
}
