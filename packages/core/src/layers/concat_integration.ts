import * as tf from '@tensorflow/tfjs';
import { shapes, type LayerArgs } from './common.js';
import { convBias, convKernel, deriveSeed } from './initializers.js';

export interface ConcatIntegrationArgs extends LayerArgs {
  /** Seed of the initialisers. Default 0. */
  seed?: number;
}

/**
 * The feature-concatenation baseline that FaceShifter's ablation compares AAD against (IPGAN-style integration):
 * inputs `[h_in, z_att, z_id]` as for {@link AADLayer}, output h_out = Conv1×1([h_in ‖ z_att ‖ tile(z_id)]) with
 * C_h channels and a bias. No normalisation and no attention: identity and attributes are mixed by one learned
 * linear map per pixel.
 *
 * The single `conv/kernel` (1×1×(C_h + C_att + c_id)×C_h) is applied as three products, one per input slice, so the
 * identity vector is never tiled over H×W; the result is the same as convolving the concatenation.
 */
export class ConcatIntegration extends tf.layers.Layer {
  static className = 'ConcatIntegration';
  readonly seed: number;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: ConcatIntegrationArgs = {}) {
    super(args);
    this.seed = args.seed ?? 0;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [hShape, attShape, idShape] = shapes(inputShape, 3, `ConcatIntegration '${this.name}'`);
    const cH = hShape![3]!;
    const cIn = cH + attShape![3]! + idShape![idShape!.length - 1]!;
    this.kernel = this.addWeight('conv/kernel', [1, 1, cIn, cH], 'float32', convKernel(1, cIn, cH, deriveSeed(this.seed, 'conv/kernel')));
    this.bias = this.addWeight('conv/bias', [cH], 'float32', convBias(cIn, deriveSeed(this.seed, 'conv/bias')));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return shapes(inputShape, 3, `ConcatIntegration '${this.name}'`)[0]!;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [h, zAtt, zId] = inputs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor2D];
      const [batch, , , cH] = h.shape;
      const cAtt = zAtt.shape[3];
      const cId = zId.shape[1];
      const kernel = this.kernel!.read() as tf.Tensor4D;
      const part = (begin: number, size: number): tf.Tensor4D => tf.slice(kernel, [0, 0, begin, 0], [1, 1, size, cH]);
      const fromH = tf.conv2d(h, part(0, cH), 1, 'valid');
      const fromAtt = tf.conv2d(zAtt, part(cH, cAtt), 1, 'valid');
      const fromId = tf.matMul(zId, tf.reshape(part(cH + cAtt, cId), [cId, cH]));
      return tf.add(tf.add(fromH, fromAtt), tf.reshape(tf.add(fromId, this.bias!.read()), [batch, 1, 1, cH]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tf.serialization.registerClass(ConcatIntegration);
