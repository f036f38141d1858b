import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config/model_config.js';
import { AADGenerator } from './aad_generator.js';
import { MultilevelAttributeEncoder } from './attribute_encoder.js';
import { LayerFactory, replayModel, type AEIPlan, type BuildOptions } from './builder.js';

/** What one AEI-Net pass returns. */
export interface AEIOutput {
  /** Ŷ_{s,t}: the target X_t with the identity z_id, B×R×R×3 in [−1, 1]. */
  swap: tf.Tensor4D;
  /** z_att^1..z_att^n(X_t), the target's attribute maps (for L_att against the encoder applied to Ŷ). */
  attributes: tf.Tensor4D[];
}

/**
 * AEI-Net (Adaptive Embedding Integration Network, FaceShifter section 3.2): the multi-level attribute encoder
 * and the AAD generator wired together. The identity encoder is not part of it: z_id comes in as an input, made by
 * a frozen recognition network (see the identity module).
 *
 * A tfjs LayersModel with inputs `[X_t, z_id]` and outputs `[Ŷ, z_att^1, .., z_att^n]`, made of the layers of
 * {@link encoder} and {@link generator} (two LayersModels that share its layers and weights): the trainer computes
 * z_att(Ŷ) with `aei.encoder.attributes(swap, { training: true })`. `model.save` / `tf.loadLayersModel`
 * round-trip it: the loaded model is a plain LayersModel with the same layers and weight names.
 */
export class AEINet extends tf.LayersModel {
  readonly modelConfig: ModelConfig;
  readonly encoder: MultilevelAttributeEncoder;
  readonly generator: AADGenerator;

  constructor(config: ModelConfig, options: BuildOptions = {}) {
    const encoder = new MultilevelAttributeEncoder(config, { ...options, name: 'encoder' });
    const generator = new AADGenerator(config, { ...options, name: 'generator' });
    const f = new LayerFactory(options.name ?? 'aei', options);
    const xt = f.input('X_t', [config.resolution, config.resolution, 3]);
    const zId = f.input('z_id', [config.cId]);
    // The encoder's and the generator's layers are laid out flat in this graph (shared with the two models),
    // not nested: see replayModel for why.
    const zAtt = replayModel(encoder, [xt]);
    const [swap] = replayModel(generator, [zId, ...zAtt]);
    super({ inputs: [xt, zId], outputs: [swap!, ...zAtt], name: options.name ?? 'aei' });
    this.modelConfig = config;
    this.encoder = encoder;
    this.generator = generator;
  }

  /** The two networks, encoder first: the order in which their weights are listed (as in the reference). */
  get subnetworks(): tf.LayersModel[] {
    return [this.encoder, this.generator];
  }

  get plan(): AEIPlan {
    return this.encoder.plan;
  }

  /** Disposes the weights, which the encoder and generator models share with this one. */
  override dispose(): ReturnType<tf.LayersModel['dispose']> {
    const result = super.dispose();
    for (const m of this.subnetworks) result.numDisposedVariables += m.dispose().numDisposedVariables;
    return result;
  }

  /** Ŷ and z_att(X_t) for a batch of targets X_t (B×R×R×3) and identities z_id (B×c_id). */
  forward(xt: tf.Tensor4D, zId: tf.Tensor2D, options: { training?: boolean } = {}): AEIOutput {
    const [swap, ...attributes] = this.apply([xt, zId], { training: options.training ?? false }) as tf.Tensor4D[];
    return { swap: swap!, attributes };
  }
}
