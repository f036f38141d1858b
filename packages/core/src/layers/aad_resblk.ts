import * as tf from '@tensorflow/tfjs';
import type { AADMaskMode, AADNorm } from '../config/model_config.js';
import { AADLayer } from './aad.js';
import { shapes, type Kwargs, type LayerArgs } from './common.js';
import { ConcatIntegration } from './concat_integration.js';
import { convKernel, deriveSeed } from './initializers.js';

export interface AADResBlkArgs extends LayerArgs {
  /** C_out, the output channels. C_in is read from h's shape; a shortcut branch exists only when C_in ≠ C_out. */
  cOut: number;
  /** `aad` (paper) or `concat` (the IPGAN-style ablation, {@link ConcatIntegration}). Default `aad`. */
  integration?: 'aad' | 'concat';
  /** AAD attention mask, see {@link AADLayer}. Default `learned`. */
  mask?: AADMaskMode;
  /** AAD γ/β conv kernel, 1 or 3. Default 1. */
  gammaBetaKernel?: 1 | 3;
  /** AAD normalisation, `instance` or `batch`. Default `instance`. */
  norm?: AADNorm;
  /** Seed of the initialisers of every sublayer. Default 0. */
  seed?: number;
}

type Integration = AADLayer | ConcatIntegration;

/**
 * AAD ResBlk(C_in → C_out, C_att) (FaceShifter, Fig. 2(c); design section 4). Inputs `[h, z_att, z_id]`:
 * - x = Conv3×3(ReLU(AAD1(h))), C_in → C_in; x = Conv3×3(ReLU(AAD2(x))), C_in → C_out;
 * - shortcut = h when C_in = C_out, else Conv3×3(ReLU(AAD3(h))), C_in → C_out;
 * - out = x + shortcut. The 3×3 convs have no bias.
 *
 * A composite layer, like tfjs's Bidirectional: it owns the sublayers `AAD1, conv1, AAD2, conv2[, AAD3, conv3]`
 * (the reference's names, so weights read `<block>/AAD1/conv1/kernel`, `<block>/conv1/kernel`, ...) and reports
 * their weights as its own, so it serialises, saves and loads like any tfjs layer.
 */
export class AADResBlk extends tf.layers.Layer {
  static className = 'AADResBlk';
  readonly cOut: number;
  readonly integration: 'aad' | 'concat';
  readonly mask: AADMaskMode;
  readonly gammaBetaKernel: 1 | 3;
  readonly norm: AADNorm;
  readonly seed: number;
  private sublayers: { aad: Integration[]; conv: tf.layers.Layer[] } | null = null;
  private fastInit = false;

  constructor(args: AADResBlkArgs) {
    super(args);
    if (!Number.isInteger(args.cOut) || args.cOut < 1) throw new Error(`AADResBlk: cOut must be a positive integer, got ${JSON.stringify(args.cOut)}`);
    this.cOut = args.cOut;
    this.integration = args.integration ?? 'aad';
    this.mask = args.mask ?? 'learned';
    this.gammaBetaKernel = args.gammaBetaKernel ?? 1;
    this.norm = args.norm ?? 'instance';
    this.seed = args.seed ?? 0;
  }

  /** Whether the block has the learned shortcut (AAD3, conv3), i.e. C_in ≠ C_out. Known after build. */
  get hasShortcut(): boolean {
    return (this.sublayers?.aad.length ?? 0) === 3;
  }

  /** The sublayers in the reference's order: AAD1, conv1, AAD2, conv2[, AAD3, conv3]. Empty before build. */
  get layers(): tf.layers.Layer[] {
    if (!this.sublayers) return [];
    const { aad, conv } = this.sublayers;
    return aad.flatMap((a, i) => [a, conv[i]!]);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [hShape, attShape, idShape] = shapes(inputShape, 3, `AADResBlk '${this.name}'`);
    const cIn = hShape![3];
    if (cIn == null) throw new Error(`AADResBlk '${this.name}': the channel axis of h must be known, got ${JSON.stringify(hShape)}`);
    const branches = cIn === this.cOut ? 2 : 3;
    const aad: Integration[] = [];
    const conv: tf.layers.Layer[] = [];
    for (let i = 1; i <= branches; i++) {
      const seed = deriveSeed(this.seed, `AAD${i}`);
      aad.push(
        this.integration === 'concat'
          ? new ConcatIntegration({ name: `AAD${i}`, seed })
          : new AADLayer({ name: `AAD${i}`, mask: this.mask, gammaBetaKernel: this.gammaBetaKernel, norm: this.norm, seed }),
      );
      const filters = i === 1 ? cIn : this.cOut;
      conv.push(
        tf.layers.conv2d({
          name: `conv${i}`,
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: false,
          kernelInitializer: convKernel(3, cIn, filters, deriveSeed(this.seed, `conv${i}/kernel`)),
        }),
      );
    }
    for (const layer of [...aad, ...conv]) {
      layer.setFastWeightInitDuringBuild(this.fastInit);
      layer.trainable = this.trainable;
    }
    // tfjs names a weight after the name scopes it is built in, and enters a layer's scope only in apply(); so each
    // sublayer is applied once to placeholders here, inside this block's scope: its weights come out as
    // '<block>/AAD1/conv1/kernel', '<block>/conv1/kernel', ..., unique within any model and stable across loads.
    // (Calling sublayer.build() directly would give conv1 and conv2 the same name, '<block>/kernel'.)
    const placeholder = (shape: tf.Shape): tf.SymbolicTensor => tf.input({ batchShape: shape });
    const att = placeholder(attShape!);
    const id = placeholder(idShape!);
    const inner = [...hShape!.slice(0, 3), cIn];
    for (let i = 0; i < branches; i++) {
      aad[i]!.apply([placeholder(inner), att, id]);
      conv[i]!.apply(placeholder(inner));
    }
    this.sublayers = { aad, conv };
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [hShape] = shapes(inputShape, 3, `AADResBlk '${this.name}'`);
    return [...hShape!.slice(0, 3), this.cOut];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs = {}): tf.Tensor {
    return tf.tidy(() => {
      const [h, zAtt, zId] = inputs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor2D];
      const { aad, conv } = this.sublayers!;
      const branch = (i: number, x: tf.Tensor): tf.Tensor =>
        conv[i]!.call(tf.relu(aad[i]!.call([x, zAtt, zId], kwargs) as tf.Tensor), kwargs) as tf.Tensor;
      const x = branch(1, branch(0, h));
      return tf.add(x, aad.length === 3 ? branch(2, h) : h);
    });
  }

  // The sublayers follow this block's `trainable` (see the setter), so their own lists are already right.
  override get trainableWeights(): tf.LayerVariable[] {
    return this.layers.flatMap((l) => l.trainableWeights);
  }

  override get nonTrainableWeights(): tf.LayerVariable[] {
    return this.layers.flatMap((l) => l.nonTrainableWeights);
  }

  override get trainable(): boolean {
    return super.trainable;
  }

  override set trainable(value: boolean) {
    super.trainable = value;
    for (const layer of this.layers) layer.trainable = value;
  }

  override setFastWeightInitDuringBuild(value: boolean): void {
    super.setFastWeightInitDuringBuild(value);
    this.fastInit = value;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      cOut: this.cOut,
      integration: this.integration,
      mask: this.mask,
      gammaBetaKernel: this.gammaBetaKernel,
      norm: this.norm,
      seed: this.seed,
    };
  }
}
tf.serialization.registerClass(AADResBlk);
