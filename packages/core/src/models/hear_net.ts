import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config/model_config.js';
import { UpsampleBilinear } from '../layers/upsample_bilinear.js';
import { LayerFactory, scaled, sym, type BuildOptions } from './builder.js';

/**
 * HEAR-Net (Heuristic Error Acknowledging Refinement Network, FaceShifter section 3.3; design section 8).
 * Inputs `[Ŷ_{s,t}, ΔY_t]` (each B×R×R×3), concatenated in that order into 6 channels, where
 * ΔY_t = X_t − AEI(X_t, X_t) is the heuristic error; output the refined swap Y_{s,t} in [−1, 1].
 *
 * A U-Net: `down1..down5` Conv 4×4 / 2, padding 1, with bias → BatchNorm → LeakyReLU(0.1), 64, 128, 256, 512, 512
 * channels; `up1..up4` ConvTranspose 4×4 / 2, padding 1, with bias → BatchNorm → LeakyReLU(0.1), 512, 256, 128, 64,
 * each concatenated (skip ‖ up, the reference's `torch.cat((c4, m1))` order) with the down feature of its size; then bilinear ×2 (align_corners),
 * `up5` Conv 3×3 (128 → 3, with bias) and tanh. Channels scale with model.widthMultiplier.
 */
export class HEARNet extends tf.LayersModel {
  readonly modelConfig: ModelConfig;

  constructor(config: ModelConfig, options: BuildOptions = {}) {
    const name = options.name ?? 'hearnet';
    super({ ...buildHEARGraph(config, new LayerFactory(name, options)), name });
    this.modelConfig = config;
  }

  /** Y_{s,t} = HEAR(Ŷ_{s,t}, ΔY_t). */
  refine(swap: tf.Tensor4D, heuristicError: tf.Tensor4D, options: { training?: boolean } = {}): tf.Tensor4D {
    return this.apply([swap, heuristicError], { training: options.training ?? false }) as tf.Tensor4D;
  }
}

function buildHEARGraph(config: ModelConfig, f: LayerFactory): { inputs: tf.SymbolicTensor[]; outputs: tf.SymbolicTensor } {
  const R = config.resolution;
  const c = (n: number): number => scaled(n, config.widthMultiplier);
  const swap = f.input('Y_hat', [R, R, 3]);
  const error = f.input('delta_Y', [R, R, 3]);
  let x = sym(f.concat('input_concat').apply([swap, error]));
  let cIn = 6;
  const downs: tf.SymbolicTensor[] = [];
  const downChannels = [64, 128, 256, 512, 512].map(c);
  downChannels.forEach((channels, i) => {
    const block = `down${i + 1}`;
    x = sym(f.conv(`${block}.0`, { cIn, filters: channels, kernelSize: 4, strides: 2, padding: 'same', useBias: true }).apply(x));
    x = sym(f.batchNorm(`${block}.1`).apply(x));
    x = sym(f.leakyReLU(`${block}.2`, 0.1).apply(x));
    downs.push(x);
    cIn = channels;
  });
  const upChannels = [512, 256, 128, 64].map(c);
  upChannels.forEach((channels, i) => {
    const block = `up${i + 1}`;
    let y = sym(f.convTranspose(`${block}.0`, { cIn, filters: channels, kernelSize: 4, strides: 2, padding: 'same', useBias: true }).apply(x));
    y = sym(f.batchNorm(`${block}.1`).apply(y));
    y = sym(f.leakyReLU(`${block}.2`, 0.1).apply(y));
    const skip = downs[downs.length - 2 - i]!;
    x = sym(f.concat(`${block}.concat`).apply([skip, y]));
    cIn = channels + downChannels[downs.length - 2 - i]!;
  });
  x = sym(f.add(new UpsampleBilinear({ name: f.name('upsample'), factor: 2, alignCorners: true })).apply(x));
  x = sym(f.conv('up5', { cIn, filters: 3, kernelSize: 3, padding: 'same', useBias: true }).apply(x));
  const y = sym(f.add(tf.layers.activation({ name: f.name('tanh'), activation: 'tanh' })).apply(x));
  return { inputs: [swap, error], outputs: y };
}
