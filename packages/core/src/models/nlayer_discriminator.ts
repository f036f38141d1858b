import * as tf from '@tensorflow/tfjs';
import type { DiscriminatorConfig } from '../config/model_config.js';
import { InstanceNorm } from '../layers/instance_norm.js';
import { LayerFactory, sym, type BuildOptions } from './builder.js';

/** The most channels any PatchGAN conv has (pix2pixHD). */
export const PATCHGAN_MAX_CHANNELS = 512;

/** One conv of the PatchGAN stack, with the index it has in the reference's nn.Sequential. */
export interface PatchGANConv {
  index: number;
  cIn: number;
  cOut: number;
  strides: 1 | 2;
  norm: boolean;
  activation: boolean;
}

/**
 * The convs of one PatchGAN scale: Conv(3 → ndf, /2) → LReLU(0.2); (n_layers − 1) × [Conv(/2, ×2 channels, ≤ 512)
 * → norm → LReLU]; Conv(/1, ×2, ≤ 512) → norm → LReLU; Conv(/1 → 1). Indices count Sequential slots as the
 * reference does (conv, norm, lrelu), so that n_layers 6 gives convs 0, 2, 5, 8, 11, 14, 17, 20.
 */
export function patchGANConvs(config: Pick<DiscriminatorConfig, 'nLayers' | 'baseChannels' | 'norm'>): PatchGANConv[] {
  const norm = config.norm !== 'none';
  const convs: PatchGANConv[] = [{ index: 0, cIn: 3, cOut: config.baseChannels, strides: 2, norm: false, activation: true }];
  let index = 2;
  let nf = config.baseChannels;
  for (let n = 1; n <= config.nLayers; n++) {
    const prev = nf;
    nf = Math.min(nf * 2, PATCHGAN_MAX_CHANNELS);
    convs.push({ index, cIn: prev, cOut: nf, strides: n < config.nLayers ? 2 : 1, norm, activation: true });
    index += 3;
  }
  convs.push({ index, cIn: nf, cOut: 1, strides: 1, norm: false, activation: false });
  return convs;
}

/**
 * One scale of the pix2pixHD multi-scale discriminator: a PatchGAN (Isola et al. 2017) whose output is a map of
 * real/fake logits, one per receptive field. All convs are 4×4 with explicit zero padding 2 (which no 'same' or
 * 'valid' setting reproduces: 256 → 129 → 65 → ...), with bias, Xavier-normal. Layer `<name>.<index>` is the conv
 * at the reference's Sequential index, `<name>.<index>.pad` its padding, `<name>.<index+1>` its norm and
 * `<name>.<index+2>` its LeakyReLU(0.2).
 */
export class NLayerDiscriminator extends tf.LayersModel {
  readonly discriminatorConfig: DiscriminatorConfig;

  /** `inputSize`: the side of the square input, or null to accept any size. */
  constructor(config: DiscriminatorConfig, inputSize: number | null, options: BuildOptions = {}) {
    const name = options.name ?? 'discriminator.layer0';
    super({ ...buildPatchGAN(config, inputSize, new LayerFactory(name, options)), name });
    this.discriminatorConfig = config;
  }
}

function buildPatchGAN(config: DiscriminatorConfig, inputSize: number | null, f: LayerFactory): { inputs: tf.SymbolicTensor; outputs: tf.SymbolicTensor } {
  const input = tf.input({ batchShape: [null, inputSize, inputSize, 3], name: f.name('input') });
  let x = input;
  for (const c of patchGANConvs(config)) {
    x = sym(f.add(tf.layers.zeroPadding2d({ name: f.name(`${c.index}.pad`), padding: 2 })).apply(x));
    x = sym(f.conv(`${c.index}`, { cIn: c.cIn, filters: c.cOut, kernelSize: 4, strides: c.strides, padding: 'valid', useBias: true }).apply(x));
    if (c.norm) {
      const normName = `${c.index + 1}`;
      const norm = config.norm === 'batch' ? f.batchNorm(normName) : f.add(new InstanceNorm({ name: f.name(normName) }));
      x = sym(norm.apply(x));
    }
    if (c.activation) x = sym(f.leakyReLU(`${c.index + (c.norm ? 2 : 1)}`, 0.2).apply(x));
  }
  return { inputs: input, outputs: x };
}
