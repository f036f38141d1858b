import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config/model_config.js';
import { AADResBlk } from '../layers/aad_resblk.js';
import { UpsampleBilinear } from '../layers/upsample_bilinear.js';
import { LayerFactory, planAEI, sym, type AEIPlan, type BuildOptions } from './builder.js';

/**
 * The AAD generator of AEI-Net (FaceShifter section 3.2.2; design section 5). Inputs `[z_id, z_att^1, ..]`:
 * - `up1`: z_id as 1×1×c_id → ConvTranspose 2×2 (stride 1, with bias) → 2×2×1024·w;
 * - `AADBlk1..AADBlk(n)` (n = log2 R, 8 at 256²), block k at 2^k × 2^k fed z_att^k, each but the last followed by
 *   a bilinear ×2 (align_corners) upsampling; channels follow {@link planAEI} (the paper's table at 256²);
 * - tanh, so Ŷ is in [−1, 1].
 *
 * With `attributes: 'single'` the only attribute input is z_att^1 (2×2), resized bilinearly (align_corners) to
 * each block's size (`z_att1.resize{k}` layers). With `generator.integration: 'concat'` every AAD layer is the
 * IPGAN-style {@link ConcatIntegration}. Weights: `generator.up1/kernel`, `generator.AADBlk1/AAD1/conv1/kernel`, ...
 */
export class AADGenerator extends tf.LayersModel {
  readonly modelConfig: ModelConfig;
  readonly plan: AEIPlan;

  constructor(config: ModelConfig, options: BuildOptions = {}) {
    const plan = planAEI(config);
    const name = options.name ?? 'generator';
    super({ ...buildGeneratorGraph(config, plan, new LayerFactory(name, options)), name });
    this.modelConfig = config;
    this.plan = plan;
  }

  /** Ŷ = G(z_id, z_att); `attributes` as the encoder returns them. */
  generate(zId: tf.Tensor2D, attributes: tf.Tensor4D[], options: { training?: boolean } = {}): tf.Tensor4D {
    return this.apply([zId, ...attributes], { training: options.training ?? false }) as tf.Tensor4D;
  }
}

function buildGeneratorGraph(config: ModelConfig, plan: AEIPlan, f: LayerFactory): { inputs: tf.SymbolicTensor[]; outputs: tf.SymbolicTensor } {
  const zId = f.input('z_id', [config.cId]);
  const zAtt = plan.attributeChannels.map((c, i) => f.input(`z_att${i + 1}`, [plan.attributeSizes[i]!, plan.attributeSizes[i]!, c]));
  const attributeFor = (k: number): tf.SymbolicTensor => {
    if (config.attributes === 'multi') return zAtt[k - 1]!;
    if (k === 1) return zAtt[0]!;
    return sym(f.add(new UpsampleBilinear({ name: f.name(`z_att1.resize${k}`), factor: 2 ** (k - 1), alignCorners: true })).apply(zAtt[0]!));
  };
  let h = sym(f.add(tf.layers.reshape({ name: f.name('up1.reshape'), targetShape: [1, 1, config.cId] })).apply(zId));
  h = sym(f.convTranspose('up1', { cIn: config.cId, filters: plan.generatorInit, kernelSize: 2, strides: 1, padding: 'valid', useBias: true }).apply(h));
  for (const b of plan.blocks) {
    const local = `AADBlk${b.index}`;
    const block = f.add(
      new AADResBlk({
        name: f.name(local),
        cOut: b.cOut,
        integration: config.generator.integration,
        mask: config.aad.mask,
        gammaBetaKernel: config.aad.gammaBetaKernel,
        norm: config.aad.norm,
        seed: f.seedFor(local),
      }),
    );
    h = sym(block.apply([h, attributeFor(b.index), zId]));
    if (b.index < plan.blocks.length) {
      h = sym(f.add(new UpsampleBilinear({ name: f.name(`upsample${b.index}`), factor: 2, alignCorners: true })).apply(h));
    }
  }
  const y = sym(f.add(tf.layers.activation({ name: f.name('tanh'), activation: 'tanh' })).apply(h));
  return { inputs: [zId, ...zAtt], outputs: y };
}
