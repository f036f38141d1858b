/**
 * What `yarn identity import` and `yarn identity-embed` do, as functions (the CLI in cli/identity.ts parses
 * arguments). Node-side: they read and write files; the networks and the readers work on bytes.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { decodeImage } from './image_io.js';
import { imageToTensor } from '../image/raw_image.js';
import { writeSafetensors } from './safetensors_fs.js';
import { type SafetensorsTensor } from '../weights/safetensors.js';
import { readWeightsFile } from './weights_file_fs.js';
import type { IdentityEncoderName } from '../identity/identity_encoder.js';
import { buildInsightFaceNetwork, isInsightFaceEncoder, INSIGHTFACE_ENCODER_NAMES } from '../identity/insightface_encoder.js';
import { irKeys, type IRArchitecture } from '../identity/insightface_ir.js';
import { iresnetKeys, type IResNetArchitecture } from '../identity/iresnet.js';
import { loadIdentityEncoder } from '../identity/registry.js';
import { NET_SIZE } from '../identity/template_warp.js';

export interface ImportIdentityOptions {
  encoder: string;
  /** The PyTorch weights (.pth as torch.save wrote them, or safetensors). */
  input: string;
  /** The safetensors file to write. */
  out: string;
  /** The state_dict's key inside a checkpoint that holds several. */
  entry?: string;
}

/**
 * Reads an InsightFace network's PyTorch weights, checks them against the encoder's architecture (every key and
 * shape), and writes them as safetensors under the same PyTorch names: a file that loads without the pickle
 * reader and without a copy, usable as `identity.weights`.
 */
export async function importIdentityWeights(options: ImportIdentityOptions): Promise<{ tensors: number; parameters: number; bytes: number; architecture: IRArchitecture | IResNetArchitecture }> {
  const name = options.encoder;
  if (!isInsightFaceEncoder(name)) {
    throw new Error(`--encoder ${name}: only the InsightFace encoders load PyTorch weights (${INSIGHTFACE_ENCODER_NAMES.join(', ')})`);
  }
  const file = await readWeightsFile(options.input, { entry: options.entry, what: `weights of identity encoder ${name}` });
  const { network, architecture } = buildInsightFaceNetwork(name, file);
  network.dispose();
  const keys = 'mode' in architecture ? irKeys(architecture) : iresnetKeys(architecture);
  const tensors: [string, SafetensorsTensor][] = [];
  let parameters = 0;
  for (const k of keys) {
    const e = file.tensors.get(k.name);
    if (!e) continue; // an optional counter
    if (k.counter) tensors.push([k.name, { dtype: 'I64', shape: [], data: new BigInt64Array([e.dtype === 'I64' ? (e.raw() as BigInt64Array)[0]! : 0n]) }]);
    else {
      tensors.push([k.name, { dtype: 'F32', shape: k.shape, data: Float32Array.from(e.toFloat32()) }]);
      parameters += e.toFloat32().length;
    }
  }
  await fs.mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
  await writeSafetensors(options.out, tensors, {
    format: 'pt',
    'faceshifter-ts.identity-encoder': name,
    'faceshifter-ts.architecture': JSON.stringify(architecture),
    'faceshifter-ts.source': path.basename(options.input),
  });
  return { tensors: tensors.length, parameters, bytes: (await fs.stat(options.out)).size, architecture };
}

export interface EmbedImageOptions {
  encoder: IdentityEncoderName | string;
  weights?: string;
  image: string;
  /** The image is already a 112² crop in the network's own alignment: fed as (p/255 − 0.5)/0.5, no warp. */
  aligned112?: boolean;
}

/** The L2-normalised embedding of one face image (an FFHQ-aligned crop, or with `aligned112` a network-aligned 112² crop). */
export async function embedImage(options: EmbedImageOptions): Promise<{ encoder: string; dim: number; embedding: number[] }> {
  const encoder = await loadIdentityEncoder(options.encoder, { weights: options.weights, input: options.aligned112 ? 'aligned-112' : undefined });
  try {
    const image = await decodeImage(options.image);
    if (options.aligned112 && (image.width !== NET_SIZE || image.height !== NET_SIZE)) {
      throw new Error(`${options.image}: --aligned-112 needs a 112×112 crop, got ${image.width}×${image.height}`);
    }
    if (image.width !== image.height) throw new Error(`${options.image}: expected a square aligned face crop (yarn prepare-data makes them), got ${image.width}×${image.height}`);
    const z = tf.tidy(() => encoder.embed(imageToTensor(image).expandDims(0) as tf.Tensor4D));
    const embedding = Array.from(await z.data());
    z.dispose();
    return { encoder: encoder.name, dim: encoder.dim, embedding };
  } finally {
    encoder.dispose();
  }
}
