import type * as tf from '@tensorflow/tfjs';
import type { CropBox } from './crop.js';

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

/** Registered encoders: `face-api-recognition` trains (L_id), `human-faceres` evaluates (ID retrieval). */
export type IdentityEncoderName = 'face-api-recognition' | 'human-faceres';
