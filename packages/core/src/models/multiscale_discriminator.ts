import * as tf from '@tensorflow/tfjs';
import type { DiscriminatorConfig, ModelConfig } from '../config/model_config.js';
import { AvgPoolExcludePad } from '../layers/avg_pool_exclude_pad.js';
import { LayerFactory, sym, type BuildOptions } from './builder.js';
import { NLayerDiscriminator } from './nlayer_discriminator.js';

/**
 * The multi-scale discriminator of pix2pixHD (Wang et al. 2018) that AEI-Net is trained against (design
 * section 6): num_D {@link NLayerDiscriminator} PatchGANs, scale s seeing the input average-pooled s times by
 * 3×3 / 2 / padding 1 without counting the padding. Input B×R×R×3; outputs one logit map per scale, full
 * resolution first (the hinge loss averages over them).
 *
 * As in the reference, the PatchGAN of scale s is named `layer{num_D − 1 − s}`: the full-resolution one is the
 * last (`discriminator.layer2` for 3 scales), so that reference weights load onto the right scale.
 */
export class MultiscaleDiscriminator extends tf.LayersModel {
  readonly discriminatorConfig: DiscriminatorConfig;
  /** The PatchGAN of each scale, full resolution first. */
  readonly scales: NLayerDiscriminator[];

  constructor(config: Pick<ModelConfig, 'resolution' | 'discriminator'>, options: BuildOptions = {}) {
    const name = options.name ?? 'discriminator';
    const f = new LayerFactory(name, options);
    const d = config.discriminator;
    const input = f.input('X', [config.resolution, config.resolution, 3]);
    const scales: NLayerDiscriminator[] = [];
    const outputs: tf.SymbolicTensor[] = [];
    let x = input;
    let size = config.resolution;
    for (let s = 0; s < d.numD; s++) {
      if (s > 0) {
        const pool = f.add(new AvgPoolExcludePad({ name: f.name(`downsample${s}`), poolSize: 3, strides: 2, padding: 1 }));
        x = sym(pool.apply(x));
        size = Math.floor((size - 1) / 2) + 1;
      }
      const patchGAN = new NLayerDiscriminator(d, size, { ...options, name: f.name(`layer${d.numD - 1 - s}`) });
      scales.push(patchGAN);
      outputs.push(sym(patchGAN.apply(x)));
    }
    super({ inputs: input, outputs, name });
    this.discriminatorConfig = d;
    this.scales = scales;
  }

  /** D(x): one logit map per scale, full resolution first. */
  judge(x: tf.Tensor4D, options: { training?: boolean } = {}): tf.Tensor4D[] {
    const out = this.apply(x, { training: options.training ?? false });
    return (Array.isArray(out) ? out : [out]) as tf.Tensor4D[];
  }
}
