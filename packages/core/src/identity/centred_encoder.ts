import * as tf from '@tensorflow/tfjs';
import type { CropBox } from './crop.js';
import { l2Normalize, type IdentityEncoder, type IdentityEncoderName } from './identity_encoder.js';

/**
 * An identity encoder whose embeddings are measured from a population mean: z′ = normalise(z − μ).
 *
 * Why: FaceShifter's L_id = 1 − cos(z(Ŷ), z(X_s)) assumes an embedding where strangers are near-orthogonal, as with
 * the paper's ArcFace. face-api's dlib descriptor was trained for Euclidean distance instead and all its vectors
 * share one large component (|μ| = 0.93): on datasets/embedded strangers sit at cosine 0.86 and the same person at
 * 0.98, so L_id spans about 0.12 and most of its gradient pushes along the shared component. Centred on μ,
 * strangers sit at −0.04 and the same person at 0.88 (see README.md), the range L_id was designed for.
 *
 * μ is a fixed constant of the encoder (not a statistic of the batch), so z′ of an image never depends on what it
 * is batched with, and a checkpoint's z_id means the same at training, swap and evaluation time.
 */
export class CentredIdentityEncoder implements IdentityEncoder {
  private readonly mean: tf.Tensor1D;
  private disposed = false;

  constructor(
    readonly name: IdentityEncoderName,
    private readonly inner: IdentityEncoder,
    mean: ArrayLike<number>,
  ) {
    if (mean.length !== inner.dim) {
      throw new Error(`CentredIdentityEncoder '${name}': the mean has ${mean.length} values but ${inner.name} gives ${inner.dim}-d embeddings.`);
    }
    this.mean = tf.tensor1d(Array.from(mean));
  }

  get dim(): number {
    return this.inner.dim;
  }

  get cropBox(): CropBox {
    return this.inner.cropBox;
  }

  get inputSize(): number {
    return this.inner.inputSize;
  }

  embed(images: tf.Tensor4D): tf.Tensor2D {
    if (this.disposed) throw new Error(`${this.name}: the encoder was disposed; load it again with loadIdentityEncoder('${this.name}').`);
    return tf.tidy(() => l2Normalize(tf.sub(this.inner.embed(images), this.mean)));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.mean.dispose();
    this.inner.dispose();
  }
}

/**
 * The population mean μ of an encoder's (L2-normalised) embeddings: the mean of each identity's mean, so that an
 * identity with many images weighs no more than one with a single image. `embeddings` is [N, dim]. Async: it reads
 * the embeddings back.
 */
export async function identityMean(embeddings: tf.Tensor2D, identities: readonly string[]): Promise<Float32Array> {
  if (embeddings.shape[0] !== identities.length) {
    throw new Error(`identityMean: ${embeddings.shape[0]} embeddings but ${identities.length} identity labels; give one label per row.`);
  }
  if (identities.length === 0) throw new Error('identityMean: no embeddings; give at least one face.');
  // Asynchronous: GPU backends (webgpu in Node) have no synchronous readback.
  const rows = await embeddings.array();
  const groups = new Map<string, number[][]>();
  identities.forEach((id, i) => {
    const g = groups.get(id);
    if (g) g.push(rows[i]!);
    else groups.set(id, [rows[i]!]);
  });
  const dim = embeddings.shape[1];
  const mean = new Float64Array(dim);
  for (const g of groups.values()) {
    for (const row of g) for (let j = 0; j < dim; j++) mean[j]! += row[j]! / g.length / groups.size;
  }
  return Float32Array.from(mean);
}
