/**
 * What a model's face images look like: the alignment of the crops (templates.ts) and the order of their colour
 * channels. Both are facts about the weights, not about the architecture: the reference's published G_latest.pth
 * was trained on `reference`-aligned crops read with cv2.imread and never converted, so it (and the ArcFace it feeds)
 * sees BGR; this project's own runs see RGB. A checkpoint records its FaceInput (meta.json `faces`), and every path
 * that feeds a model (swap, eval, L_id, training from imported weights, the web app) aligns and orders channels
 * from it.
 */
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_FACE_ALIGNMENT, FACE_ALIGNMENTS, isFaceAlignment, type FaceAlignment } from './templates.js';

export const CHANNEL_ORDERS = ['rgb', 'bgr'] as const;
export type ChannelOrder = (typeof CHANNEL_ORDERS)[number];

export interface FaceInput {
  align: FaceAlignment;
  channels: ChannelOrder;
}

/** Checkpoints that record nothing: this project's runs made before FaceInput existed. */
export const DEFAULT_FACE_INPUT: FaceInput = { align: DEFAULT_FACE_ALIGNMENT, channels: 'rgb' };

/** The PyTorch reference's published weights: its alignment, BGR (cv2.imread, never converted). */
export const REFERENCE_FACE_INPUT: FaceInput = { align: 'reference', channels: 'bgr' };

/** Validates a recorded FaceInput (meta.json's `faces`); absent means {@link DEFAULT_FACE_INPUT}. */
export function parseFaceInput(v: unknown, where: string): FaceInput {
  if (v === undefined) return DEFAULT_FACE_INPUT;
  const o = v as Partial<Record<keyof FaceInput, unknown>> | null;
  if (o === null || typeof o !== 'object') throw new Error(`${where}: faces must be an object { align, channels }, got ${JSON.stringify(v)}`);
  if (!isFaceAlignment(o.align)) throw new Error(`${where}: faces.align is ${JSON.stringify(o.align)}; expected one of ${FACE_ALIGNMENTS.join(', ')}`);
  if (o.channels !== 'rgb' && o.channels !== 'bgr') throw new Error(`${where}: faces.channels is ${JSON.stringify(o.channels)}; expected rgb or bgr`);
  return { align: o.align, channels: o.channels };
}

/**
 * NHWC images with their channels in `to` order, from RGB (or back: the swap is its own inverse). A reverse of the
 * last axis, so it is differentiable for L_id on every backend.
 */
export function toChannelOrder<T extends tf.Tensor4D | tf.Tensor3D>(rgb: T, to: ChannelOrder): T {
  if (to === 'rgb') return rgb;
  return tf.reverse(rgb, -1) as T;
}

/** One line for a log or a warning. */
export function describeFaceInput(f: FaceInput): string {
  return `${f.align} alignment, ${f.channels.toUpperCase()}`;
}
