import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config/model_config.js';
import { UpsampleBilinear } from '../layers/upsample_bilinear.js';
import { LayerFactory, planAEI, sym, type AEIPlan, type BuildOptions } from './builder.js';

/**
 * The multi-level attribute encoder of AEI-Net (FaceShifter section 3.2.1; design section 2): a U-Net whose
 * decoder features are the attribute maps z_att^1..z_att^n (n = log2 R; 8 at 256²), coarse to fine.
 *
 * - Down blocks `conv1..conv(n−1)`: Conv 4×4 / 2, padding 1, no bias → BatchNorm → LeakyReLU(0.1). The last,
 *   at 2×2, is z_att^1.
 * - Up blocks `deconv1..deconv(n−2)`: ConvTranspose 4×4 / 2, padding 1, no bias → BatchNorm → LeakyReLU(0.1), then
 *   concatenated (up ‖ skip) with the down feature of the same size: z_att^2..z_att^(n−1).
 * - z_att^n is the bilinear ×2 (align_corners) of z_att^(n−1).
 *
 * With `attributes: 'single'` only the down path is built and z_att^1 is the one output.
 * A plain tfjs LayersModel: use it inside another tf.model, save it, load it with tf.loadLayersModel.
 * Layer names mirror the reference (`encoder.conv1.0` conv, `.1` BatchNorm; `encoder.deconv1.deconv`, `.bn`).
 */
export class MultilevelAttributeEncoder extends tf.LayersModel {
  readonly modelConfig: ModelConfig;
  readonly plan: AEIPlan;

  constructor(config: ModelConfig, options: BuildOptions = {}) {
    const plan = planAEI(config);
    const name = options.name ?? 'encoder';
    super({ ...buildEncoderGraph(plan, new LayerFactory(name, options)), name });
    this.modelConfig = config;
    this.plan = plan;
  }

  /** z_att^1..z_att^n of X (B×R×R×3 in [−1, 1]); `training` uses batch statistics and updates the BatchNorms. */
  attributes(x: tf.Tensor4D, options: { training?: boolean } = {}): tf.Tensor4D[] {
    const out = this.apply(x, { training: options.training ?? false });
    return (Array.isArray(out) ? out : [out]) as tf.Tensor4D[];
  }
}

function buildEncoderGraph(plan: AEIPlan, f: LayerFactory): { inputs: tf.SymbolicTensor; outputs: tf.SymbolicTensor[] } {
  const input = f.input('X', [plan.resolution, plan.resolution, 3]);
  const downs: tf.SymbolicTensor[] = [];
  let x = input;
  let cIn = 3;
  for (const d of plan.down) {
    const block = `conv${d.index}`;
    x = sym(f.conv(`${block}.0`, { cIn, filters: d.channels, kernelSize: 4, strides: 2, padding: 'same', useBias: false }).apply(x));
    x = sym(f.batchNorm(`${block}.1`).apply(x));
    x = sym(f.leakyReLU(`${block}.2`, 0.1).apply(x));
    downs.push(x);
    cIn = d.channels;
  }
  const outputs = [x]; // z_att^1
  if (plan.up.length === 0) return { inputs: input, outputs };
  for (const u of plan.up) {
    const block = `deconv${u.index}`;
    let y = sym(f.convTranspose(`${block}.deconv`, { cIn: u.cIn, filters: u.cOut, kernelSize: 4, strides: 2, padding: 'same', useBias: false }).apply(x));
    y = sym(f.batchNorm(`${block}.bn`).apply(y));
    y = sym(f.leakyReLU(`${block}.lrelu`, 0.1).apply(y));
    const skip = downs[downs.length - 1 - u.index]!;
    x = sym(f.concat(`${block}.concat`).apply([y, skip]));
    outputs.push(x);
  }
  outputs.push(sym(f.add(new UpsampleBilinear({ name: f.name('upsample'), factor: 2, alignCorners: true })).apply(x)));
  return { inputs: input, outputs };
}
