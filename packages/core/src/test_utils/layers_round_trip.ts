/** Test helpers for the layer and model tests: in-memory save/load, exact comparisons, gradient coverage. */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/** Saves `model` with an in-memory handler and loads it back with tf.loadLayersModel (strict weight matching). */
export async function saveAndLoad(model: tf.LayersModel): Promise<{ loaded: tf.LayersModel; artifacts: tf.io.ModelArtifacts }> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!), { strict: true });
  return { loaded, artifacts: artifacts! };
}

/** Asserts two tensors (or lists) have the same shapes and bit-identical values. */
export async function expectBitIdentical(a: tf.Tensor | tf.Tensor[], b: tf.Tensor | tf.Tensor[]): Promise<void> {
  const as = Array.isArray(a) ? a : [a];
  const bs = Array.isArray(b) ? b : [b];
  expect(bs.length).toBe(as.length);
  for (let i = 0; i < as.length; i++) {
    expect(bs[i]!.shape).toEqual(as[i]!.shape);
    const x = new Uint32Array((await as[i]!.data<'float32'>()).slice().buffer);
    const y = new Uint32Array((await bs[i]!.data<'float32'>()).slice().buffer);
    let differing = 0;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) differing++;
    expect(differing, `output ${i}: ${differing} of ${x.length} values differ`).toBe(0);
  }
}

/** Deterministic input in [−1, 1]. */
export function seededInput(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/**
 * Gradients of `loss` with respect to every trainable weight of `model`; returns the names of weights whose
 * gradient is missing, all zero or not finite.
 */
export async function weightsWithoutGradient(model: tf.layers.Layer, loss: () => tf.Scalar): Promise<{ missing: string[]; count: number }> {
  const weights = model.trainableWeights;
  const vars = weights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(loss, vars);
  const missing: string[] = [];
  for (const w of weights) {
    const g = grads[(w.read() as tf.Variable).name];
    if (!g) {
      missing.push(`${w.originalName} (no gradient)`);
      continue;
    }
    const values = await g.data();
    let finite = true;
    let nonZero = false;
    for (const v of values) {
      if (!Number.isFinite(v)) finite = false;
      if (v !== 0) nonZero = true;
    }
    if (!finite) missing.push(`${w.originalName} (not finite)`);
    else if (!nonZero) missing.push(`${w.originalName} (all zero)`);
  }
  tf.dispose([value, ...Object.values(grads)]);
  return { missing, count: weights.length };
}
