import * as tf from '@tensorflow/tfjs';
import { loadFaceApiWeights, type ModelFiles } from '../faces/model_files.js';
import type { CropBox } from './crop.js';
import { FrozenFaceEncoder } from './identity_encoder.js';

/**
 * face-api's face recognition net (@vladmandic/face-api `model/face_recognition_model*`): a port of dlib's
 * ResNet-29 face descriptor, 150x150 RGB in 0-255 (minus the mean colour, over 255), 128-d out.
 * The default identity encoder for training (c_id = 128).
 *
 * The forward pass is written here with plain ops on the package's weights rather than called through face-api,
 * so that it is differentiable w.r.t. the input, batched, and free of face-api's input plumbing. Each conv's
 * bias and the following per-channel scale layer are folded into the filter and one bias at load time
 * (conv(x, F)*s + (b*s + t) == conv(x, F*s) + (b*s + t)): half the elementwise ops, same function.
 */

/**
 * Where the net looks in an FFHQ-aligned crop: face-api feeds it the square around its landmark-aligned face box.
 * Measured by running face-api's own pipeline (detector, 68 landmarks, `alignedRect`) on the 21 re-detectable
 * FFHQ-aligned crops of the face-api sample photos: box centre (0.51, 0.63) of the side, width 0.67 +- 0.05.
 */
export const FACE_API_CROP: CropBox = { x: 0.165, y: 0.295, size: 0.67 };

const MEAN_RGB = [122.782, 117.001, 104.298];
const INPUT_SIZE = 150;

interface ConvParams {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

interface ResidualParams {
  conv1: ConvParams;
  conv2: ConvParams;
}

const STAGES: readonly { name: string; down: boolean }[] = [
  { name: 'conv32_1', down: false },
  { name: 'conv32_2', down: false },
  { name: 'conv32_3', down: false },
  { name: 'conv64_down', down: true },
  { name: 'conv64_1', down: false },
  { name: 'conv64_2', down: false },
  { name: 'conv64_3', down: false },
  { name: 'conv128_down', down: true },
  { name: 'conv128_1', down: false },
  { name: 'conv128_2', down: false },
  { name: 'conv256_down', down: true },
  { name: 'conv256_1', down: false },
  { name: 'conv256_2', down: false },
  { name: 'conv256_down_out', down: true },
];

function take(weights: tf.NamedTensorMap, name: string): tf.Tensor {
  const t = weights[name];
  if (!t) throw new Error(`face_recognition_model: weight '${name}' is missing; reinstall @vladmandic/face-api 1.7.15.`);
  return t;
}

function foldConv(weights: tf.NamedTensorMap, prefix: string): ConvParams {
  return tf.tidy(() => {
    const filters = take(weights, `${prefix}/conv/filters`);
    const bias = take(weights, `${prefix}/conv/bias`);
    const scale = take(weights, `${prefix}/scale/weights`);
    const shift = take(weights, `${prefix}/scale/biases`);
    return {
      filter: tf.keep(tf.mul(filters, scale) as tf.Tensor4D),
      bias: tf.keep(tf.add(tf.mul(bias, scale), shift) as tf.Tensor1D),
    };
  });
}

export class FaceApiRecognition extends FrozenFaceEncoder {
  readonly name = 'face-api-recognition' as const;
  readonly dim = 128;
  private readonly stem: ConvParams;
  private readonly blocks: ResidualParams[];
  private readonly fc: tf.Tensor2D;

  constructor(weights: tf.NamedTensorMap, cropBox: CropBox = FACE_API_CROP) {
    super(cropBox, INPUT_SIZE);
    this.stem = foldConv(weights, 'conv32_down');
    this.blocks = STAGES.map(({ name }) => ({ conv1: foldConv(weights, `${name}/conv1`), conv2: foldConv(weights, `${name}/conv2`) }));
    this.fc = tf.clone(take(weights, 'fc')) as tf.Tensor2D;
    tf.dispose(Object.values(weights));
  }

  private conv(x: tf.Tensor4D, p: ConvParams, stride: number, pad: 'same' | 'valid'): tf.Tensor4D {
    return tf.add(tf.conv2d(x, p.filter, stride, pad), p.bias);
  }

  private residual(x: tf.Tensor4D, p: ResidualParams, down: boolean): tf.Tensor4D {
    let out = tf.relu(this.conv(x, p.conv1, down ? 2 : 1, down ? 'valid' : 'same'));
    out = this.conv(out, p.conv2, 1, 'same');
    let shortcut = x;
    if (down) {
      shortcut = tf.avgPool(x, 2, 2, 'valid') as tf.Tensor4D;
      // The strided 'valid' conv can come out one row/column short of the pooled shortcut (odd sizes): the
      // dlib net pads the conv branch with zeros at the bottom/right; the shortcut gets zero channels appended.
      const dh = shortcut.shape[1] - out.shape[1];
      const dw = shortcut.shape[2] - out.shape[2];
      if (dh > 0 || dw > 0) out = tf.pad(out, [[0, 0], [0, dh], [0, dw], [0, 0]]);
      const dc = out.shape[3] - shortcut.shape[3];
      if (dc > 0) shortcut = tf.pad(shortcut, [[0, 0], [0, 0], [0, 0], [0, dc]]);
    }
    return tf.relu(tf.add(out, shortcut)) as tf.Tensor4D;
  }

  /** The raw 128-d descriptors (not normalised) of [B, 150, 150, 3] images already in the net's 0-255 range. */
  descriptors(pixels255: tf.Tensor4D): tf.Tensor2D {
    this.assertUsable();
    return tf.tidy(() => {
      const x = tf.div(tf.sub(pixels255, tf.tensor1d(MEAN_RGB)), 255) as tf.Tensor4D;
      let out = tf.relu(this.conv(x, this.stem, 2, 'valid'));
      out = tf.maxPool(out, 3, 2, 'valid');
      this.blocks.forEach((p, i) => {
        out = this.residual(out, p, STAGES[i]!.down);
      });
      return tf.matMul(tf.mean(out, [1, 2]) as tf.Tensor2D, this.fc);
    });
  }

  protected network(pixels255: tf.Tensor4D): tf.Tensor2D {
    return this.descriptors(pixels255);
  }

  protected releaseWeights(): void {
    tf.dispose([this.stem.filter, this.stem.bias, this.fc]);
    for (const b of this.blocks) tf.dispose([b.conv1.filter, b.conv1.bias, b.conv2.filter, b.conv2.bias]);
  }

}

/** Loads the face-api recognition net from @vladmandic/face-api's `model/` folder (offline). */
export async function loadFaceApiRecognition(options: { cropBox?: CropBox; files?: ModelFiles } = {}): Promise<FaceApiRecognition> {
  return new FaceApiRecognition(await loadFaceApiWeights('face_recognition_model', options.files), options.cropBox);
}
