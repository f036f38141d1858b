import * as tf from '@tensorflow/tfjs';
import { readSafetensors, writeStagedFile, encodeSafetensors, type SafetensorsTensor } from '@faceshifter/core/node';

/** The trainable variables of some networks, in a fixed order (Adam's moment slots are matched by position). */
export function trainableVariables(...models: tf.LayersModel[]): tf.Variable[] {
  return models.flatMap((m) => m.trainableWeights.map((w) => w.read() as tf.Variable));
}

/**
 * One optimiser step on `variables`: differentiates the `total` that `objective` returns and applies the gradients.
 * The other scalars the objective returns are read back as numbers in one transfer; tensors listed in `keep`
 * survive the step (e.g. the swap for the discriminator), everything else is freed. The read is asynchronous, as GPU
 * backends (webgpu in Node) require.
 */
export async function optimizerStep<R extends Record<string, tf.Scalar>, K extends tf.Tensor[]>(
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  objective: () => { total: tf.Scalar; scalars: R; keep?: K },
): Promise<{ values: Record<keyof R, number>; kept: K }> {
  let scalars: tf.Scalar[] = [];
  let names: (keyof R)[] = [];
  let kept = [] as unknown as K;
  const { value, grads } = tf.variableGrads(() => {
    const out = objective();
    names = Object.keys(out.scalars) as (keyof R)[];
    scalars = names.map((n) => tf.keep(out.scalars[n]!));
    kept = (out.keep ?? []).map((t) => tf.keep(t)) as K;
    return out.total;
  }, variables);
  optimizer.applyGradients(grads);
  const stacked = tf.stack(scalars);
  const numbers = await stacked.data();
  tf.dispose([value, stacked, ...scalars, ...Object.values(grads)]);
  const values = {} as Record<keyof R, number>;
  names.forEach((n, i) => (values[n] = numbers[i]!));
  return { values, kept };
}

/**
 * Adam's running β1^t and β2^t. tfjs's `setWeights` recomputes them with pow(), which differs from the running
 * product in the last float bit, and a resumed run would drift from an uninterrupted one; so they are saved too.
 */
const ADAM_POWERS = ['accBeta1', 'accBeta2'] as const;
type WithPowers = Partial<Record<(typeof ADAM_POWERS)[number], tf.Variable>>;

/** Writes an optimiser's state (iteration count and moments) into a staged checkpoint directory. */
export async function saveOptimizer(file: string, optimizer: tf.Optimizer): Promise<void> {
  const weights = await optimizer.getWeights();
  for (const key of ADAM_POWERS) {
    const v = (optimizer as unknown as WithPowers)[key];
    if (v) weights.push({ name: `@${key}`, tensor: v });
  }
  const values = await Promise.all(weights.map((w) => w.tensor.data()));
  const tensors: [string, SafetensorsTensor][] = weights.map((w, i) => [
    // Positions, not tfjs's variable names, identify the slots: names get uniquified per process.
    `${String(i).padStart(5, '0')}:${w.name}`,
    w.tensor.dtype === 'int32'
      ? { dtype: 'I32', shape: w.tensor.shape, data: values[i] as Int32Array }
      : { dtype: 'F32', shape: w.tensor.shape, data: values[i] as Float32Array },
  ]);
  // getWeights() makes a fresh scalar for the iteration count; the rest are the optimiser's own variables.
  tf.dispose(weights.filter((w) => w.name === 'iter').map((w) => w.tensor));
  await writeStagedFile(file, encodeSafetensors(tensors, { optimizer: optimizer.getClassName() }, file));
}

/** Restores what {@link saveOptimizer} wrote into an optimiser of the same kind over the same variables. */
export async function loadOptimizer(file: string, optimizer: tf.Optimizer): Promise<void> {
  const st = await readSafetensors(file);
  if (st.metadata.optimizer !== optimizer.getClassName()) {
    throw new Error(`${file}: holds ${st.metadata.optimizer ?? 'an unknown'} optimiser state, expected ${optimizer.getClassName()}.`);
  }
  const named = [...st.tensors.values()].map((e) => ({
    name: e.name.slice(6),
    tensor: e.dtype === 'I32' ? tf.tensor(e.raw() as Int32Array, [...e.shape], 'int32') : tf.tensor(e.toFloat32(), [...e.shape]),
  }));
  const powers = named.filter((n) => n.name.startsWith('@'));
  await optimizer.setWeights(named.filter((n) => !n.name.startsWith('@')));
  for (const p of powers) (optimizer as unknown as WithPowers)[p.name.slice(1) as (typeof ADAM_POWERS)[number]]?.assign(p.tensor);
  tf.dispose(named.map((n) => n.tensor));
}
