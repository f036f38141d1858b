import * as tf from '@tensorflow/tfjs';
import { access } from 'node:fs/promises';
import {
  alignFace,
  applyAffine,
  decodeImage,
  ImageDecodeError,
  imageToTensor,
  loadCheckpointNetworks,
  loadFaceDetector,
  loadIdentityEncoder,
  pasteBack,
  readCheckpoint,
  tensorToImage,
  type AEINet,
  type DetectedFace,
  type FaceDetector,
  type HEARNet,
  type IdentityEncoder,
  type IdentityEncoderName,
  type LoadedCheckpoint,
  type RawImage,
} from '@faceshifter/core';
import { findCheckpoint, trainedIdentityEncoder } from '@faceshifter/train';
import { faceMask, type FaceMaskOptions } from './mask.js';

/**
 * Face swapping on whole photos: detect and align both faces, run AEI-Net (and HEAR-Net when given) on the aligned
 * crops, and paste the swapped face back into the target photo through a soft landmark mask.
 */

/** Which target faces to swap: one index (faces numbered left to right), or all of them. */
export type FaceSelection = number | 'all';

export interface FaceSwapperOptions {
  /** AEI-Net run directory (its newest checkpoint is used) or checkpoint directory. */
  checkpoint: string;
  /** HEAR-Net run or checkpoint; when given, the swap is refined with it (faceshifter.md, stage 2). */
  hear?: string;
  /** The identity encoder AEI-Net was trained with; default: the run's config.yaml, else face-api-recognition-centred. */
  identity?: IdentityEncoderName;
  /** Weights of an InsightFace `identity` encoder (.pth or safetensors); default: the run's identity.weights. */
  identityWeights?: string;
  /** Face detector: `ssd` (default, more accurate) or `tiny` (about 7x faster, weaker on small or turned faces). */
  detector?: 'ssd' | 'tiny';
  /** The blend mask's shape. */
  mask?: FaceMaskOptions;
  /** Progress and notes (one line each); default: none. */
  log?: (line: string) => void;
}

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

function describeBox(face: DetectedFace, i: number): string {
  const b = face.box;
  return `[${i}] x=${Math.round(b.x)} y=${Math.round(b.y)} ${Math.round(b.width)}x${Math.round(b.height)}`;
}

/** Reads and decodes a photo; a missing or unreadable file is a one-line error naming it and the fix. */
export async function readPhoto(file: string, role: string): Promise<RawImage & { channels: 3 }> {
  try {
    await access(file);
  } catch {
    throw new Error(`${file}: no such ${role} file; check the path`);
  }
  try {
    return await decodeImage(file);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw new Error(`${file}: cannot decode the ${role} image (${e.reason}); pass a JPEG, PNG, WebP, TIFF or AVIF photo`);
    throw e;
  }
}

/** An AEI-Net checkpoint (run or checkpoint folder), with a clear error for any other kind. */
export async function loadAEI(userPath: string, log: (line: string) => void): Promise<{ dir: string; loaded: LoadedCheckpoint; aei: AEINet }> {
  const dir = await findCheckpoint(userPath);
  const info = await readCheckpoint(dir);
  if (!info.meta.networks.includes('aei')) {
    const hint = info.meta.networks.includes('hearnet') ? ' (this one is a HEAR-Net checkpoint: pass it as --hear)' : '';
    throw new Error(`${info.dir}: not an AEI-Net checkpoint (it holds ${info.meta.networks.join(', ')}); pass an AEI-Net run or checkpoint as --checkpoint${hint}`);
  }
  const loaded = await loadCheckpointNetworks(info.dir, { only: ['aei'] });
  log(`[swap] AEI-Net ${info.dir} (${loaded.config.resolution} px, step ${info.meta.step ?? 'n/a'})`);
  return { dir: info.dir, loaded, aei: loaded.networks.aei as AEINet };
}

/** A HEAR-Net checkpoint for an AEI-Net of `resolution` px, with a clear error for any other kind or size. */
export async function loadHEAR(userPath: string, resolution: number, log: (line: string) => void): Promise<{ dir: string; loaded: LoadedCheckpoint; hear: HEARNet }> {
  const dir = await findCheckpoint(userPath);
  const info = await readCheckpoint(dir);
  if (!info.meta.networks.includes('hearnet')) {
    throw new Error(`${info.dir}: not a HEAR-Net checkpoint (it holds ${info.meta.networks.join(', ')}); pass a run trained with stage: hear as --hear, or leave --hear out`);
  }
  if (info.config.resolution !== resolution) {
    throw new Error(`${info.dir}: HEAR-Net works at ${info.config.resolution} px but AEI-Net at ${resolution} px; pass a HEAR-Net trained on this AEI-Net`);
  }
  const loaded = await loadCheckpointNetworks(info.dir, { only: ['hearnet'] });
  log(`[swap] HEAR-Net ${info.dir}`);
  return { dir: info.dir, loaded, hear: loaded.networks.hearnet as HEARNet };
}

/** AEI-Net (+ HEAR-Net), the identity encoder and the face detector, loaded once for any number of swaps. */
export class FaceSwapper {
  private constructor(
    readonly checkpointDir: string,
    readonly hearDir: string | null,
    readonly identityName: IdentityEncoderName,
    private readonly aei: AEINet,
    private readonly hear: HEARNet | null,
    private readonly identity: IdentityEncoder,
    private readonly detector: FaceDetector,
    private readonly options: FaceSwapperOptions,
    private readonly disposers: (() => void)[],
  ) {}

  static async load(options: FaceSwapperOptions): Promise<FaceSwapper> {
    const log = options.log ?? (() => {});
    const disposers: (() => void)[] = [];
    try {
      const a = await loadAEI(options.checkpoint, log);
      disposers.push(a.loaded.dispose);
      const h = options.hear ? await loadHEAR(options.hear, a.aei.modelConfig.resolution, log) : null;
      if (h) disposers.push(h.loaded.dispose);
      const found = options.identity ? { name: options.identity, weights: options.identityWeights, from: '--identity' } : trainedIdentityEncoder(options.checkpoint, a.dir);
      const identity = await loadIdentityEncoder(found.name, { weights: options.identityWeights ?? found.weights, weightsOption: "--identity-weights <file> (or identity.weights in the run's config.yaml)" });
      disposers.push(() => identity.dispose());
      if (identity.dim !== a.aei.modelConfig.cId) {
        throw new Error(`${a.dir}: AEI-Net takes ${a.aei.modelConfig.cId}-d identities but ${found.name} gives ${identity.dim}-d; pass the encoder it was trained with as --identity`);
      }
      log(`[swap] identity encoder ${found.name} (${found.from ?? 'default: no run config.yaml found'})`);
      const detector = await loadFaceDetector();
      return new FaceSwapper(a.dir, h?.dir ?? null, found.name, a.aei, h?.hear ?? null, identity, detector, options, disposers);
    } catch (e) {
      for (const d of disposers.reverse()) d();
      throw e;
    }
  }

  /** The side of the aligned crops AEI-Net works on. */
  get resolution(): number {
    return this.aei.modelConfig.resolution;
  }

  /** Detects the faces of a decoded photo, ordered left to right. */
  async analyse(file: string, photo: RawImage & { channels: 3 }): Promise<AnalysedPhoto> {
    const faces = await this.detector.detect(photo, { detector: this.options.detector ?? 'ssd' });
    faces.sort((a, b) => a.box.x + a.box.width / 2 - (b.box.x + b.box.width / 2));
    return { file, photo, faces };
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
      this.options.log?.(`[swap] ${file}: ${faces.length} faces in the source; using the largest, ${describeBox(faces[i]!, i)} (choose with --source-face-index)`);
    }
    if (!Number.isInteger(i) || i < 0 || i >= faces.length) {
      throw new Error(`${file}: --source-face-index ${faceIndex} is out of range: the source has ${faces.length} face${faces.length > 1 ? 's' : ''} (0..${faces.length - 1})`);
    }
    const crop = alignFace(source.photo, faces[i]!.landmarks5, this.resolution).crop;
    return tf.tidy(() => this.identity.embed(imageToTensor(crop).expandDims(0) as tf.Tensor4D));
  }

  /** Which of the target's faces a selection means; the errors name the file, the faces found and the fix. */
  selectFaces(target: AnalysedPhoto, selection: FaceSelection | undefined): number[] {
    const { faces, file } = target;
    if (faces.length === 0) throw new Error(`${file}: no face found in the target photo; use a photo with a clearly visible, roughly frontal face`);
    if (selection === 'all') return faces.map((_, i) => i);
    if (selection === undefined) {
      if (faces.length === 1) return [0];
      throw new Error(
        `${file}: ${faces.length} faces found in the target (left to right: ${faces.map(describeBox).join(', ')}); pass --face-index 0..${faces.length - 1} or --face-index all`,
      );
    }
    if (!Number.isInteger(selection) || selection < 0 || selection >= faces.length) {
      throw new Error(`${file}: --face-index ${selection} is out of range: the target has ${faces.length} face${faces.length > 1 ? 's' : ''} (0..${faces.length - 1})`);
    }
    return [selection];
  }

  /** AEI-Net (then HEAR-Net) on one aligned target crop: the swapped crop, same size. */
  async swapCrop(crop: RawImage, zId: tf.Tensor2D): Promise<RawImage> {
    const y = tf.tidy(() => {
      const xt = imageToTensor(crop).expandDims(0) as tf.Tensor4D;
      let swap = this.aei.forward(xt, zId).swap;
      if (this.hear) {
        // ΔY_t = X_t − AEI(X_t, z_id(X_t)): what AEI-Net fails to reproduce of the target itself (occlusions).
        const self = this.aei.forward(xt, this.identity.embed(xt)).swap;
        swap = this.hear.refine(swap, tf.sub(xt, self) as tf.Tensor4D);
      }
      return swap.squeeze([0]) as tf.Tensor3D;
    });
    try {
      return await tensorToImage(y);
    } finally {
      y.dispose();
    }
  }

  /** Swaps the selected target faces to the identity `zId` and pastes them back into the full target photo. */
  async swap(zId: tf.Tensor2D, target: AnalysedPhoto, selection?: FaceSelection): Promise<SwapResult> {
    const chosen = this.selectFaces(target, selection);
    let image: RawImage = target.photo;
    for (const i of chosen) {
      const face = target.faces[i]!;
      // Align on the untouched photo so that one face's paste cannot shift another's crop.
      const aligned = alignFace(target.photo, face.landmarks5, this.resolution);
      const swapped = await this.swapCrop(aligned.crop, zId);
      const mask = faceMask(
        face.landmarks68.map((p) => applyAffine(aligned.toCrop, p)),
        this.resolution,
        this.options.mask,
      );
      image = pasteBack(image, swapped, aligned.toPhoto, { feather: 0.05, mask });
    }
    return { image, faces: target.faces, swapped: chosen };
  }

  dispose(): void {
    for (const d of this.disposers.reverse()) d();
    this.disposers.length = 0;
  }
}
