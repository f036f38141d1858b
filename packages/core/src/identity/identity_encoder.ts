import * as tf from '@tensorflow/tfjs';
import { CropResize, type CropBox } from './crop.js';
import type { InsightFaceEncoderName } from './insightface_encoder.js';

/**
 * A frozen, pretrained face-recognition network: z_id of FaceShifter (faceshifter.md §1).
 *
 * - Input: NHWC images in [-1, 1], FFHQ-style aligned face crops (faces/alignment.ts) of any size; each encoder
 *   cuts out and resizes the tight face box its network was trained on.
 * - Output: [B, dim], L2-normalised.
 * - Frozen: the weights are constant tensors, never tf.Variables, so no optimiser can pick them up.
 * - Differentiable w.r.t. the input (L_id trains the generator through it): the forward pass is plain tf ops, with
 *   no fused kernels (whose gradients would also compute the weights' gradients) and no ops without a gradient.
 */
export interface IdentityEncoder {
  readonly name: IdentityEncoderName;
  /** Embedding size (c_id). */
  readonly dim: number;
  /** The square of the aligned input the network sees. */
  readonly cropBox: CropBox;
  /** The network's own input side in pixels. */
  readonly inputSize: number;
  embed(images: tf.Tensor4D): tf.Tensor2D;
  /** Frees the weights; the encoder is unusable afterwards. */
  dispose(): void;
}

/** Rows scaled to unit L2 norm; the epsilon keeps the value and gradient finite for an all-zero row. */
export function l2Normalize(z: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(z, tf.sqrt(tf.add(tf.sum(tf.square(z), -1, true), 1e-12))));
}

/**
 * Registered encoders. Shipped in npm packages: `face-api-recognition` and its centred form
 * `face-api-recognition-centred` (centred_encoder.ts) train (L_id); `human-faceres` evaluates (ID retrieval).
 * From PyTorch weights users bring (insightface_encoder.ts): `arcface-ir-se50` (the paper's ArcFace, as the
 * reference trains with it) and its IR/IR-SE kin, and the arcface_torch `iresnet*` (ArcFace/CosFace evaluation).
 */
export type IdentityEncoderName = 'face-api-recognition' | 'face-api-recognition-centred' | 'human-faceres' | InsightFaceEncoderName;

/**
 * What the pretrained encoders share: input checks, the cut to the network's own face box at its input size,
 * the [-1, 1] → 0–255 range both networks were trained on, L2 normalisation, and disposal. A subclass supplies the
 * network itself and frees its weights.
 */
export abstract class FrozenFaceEncoder implements IdentityEncoder {
  abstract readonly name: IdentityEncoderName;
  abstract readonly dim: number;
  private readonly crop: CropResize;
  private disposed = false;

  constructor(
    readonly cropBox: CropBox,
    readonly inputSize: number,
  ) {
    this.crop = new CropResize(cropBox, inputSize);
  }

  /** The raw (unnormalised) embeddings of [B, inputSize, inputSize, 3] crops in 0–255. */
  protected abstract network(pixels255: tf.Tensor4D): tf.Tensor2D;
  protected abstract releaseWeights(): void;

  embed(images: tf.Tensor4D): tf.Tensor2D {
    this.assertUsable();
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new Error(`${this.name}.embed: expected NHWC RGB images [B, H, W, 3] in [-1, 1], got [${images.shape}].`);
    }
    return tf.tidy(() => {
      const pixels = tf.mul(tf.add(this.crop.apply(images), 1), 127.5) as tf.Tensor4D;
      return l2Normalize(this.network(pixels));
    });
  }

  protected assertUsable(): void {
    if (this.disposed) throw new Error(`${this.name}: the encoder was disposed; load it again with loadIdentityEncoder('${this.name}').`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseWeights();
    this.crop.dispose();
  }
}
