import * as tf from '@tensorflow/tfjs';

interface TensorRecord {
  shape: number[];
  dtype: tf.DataType;
  values: tf.TypedArray;
}

interface KernelCall {
  kernelName: string;
  inputs: Record<string, TensorRecord> | TensorRecord[];
  attrs: tf.NamedAttrMap;
  outputs: TensorRecord[];
}

function norm(r: TensorRecord): number {
  let sum = 0;
  for (let i = 0; i < r.values.length; i++) sum += Number(r.values[i]) ** 2;
  return Math.sqrt(sum);
}

const snapshot = (t: tf.Tensor): TensorRecord => ({ shape: [...t.shape], dtype: t.dtype, values: (t.dataSync() as tf.TypedArray).slice() });

/**
 * Records every kernel call `fn` makes on the current (synchronously readable) backend: its inputs, attributes and
 * outputs. Differentiating through a whole model is chaotic at ReLU kinks and max-pool near-ties (float32 rounding
 * decides which side a value falls), so comparing end-to-end gradients across backends can blame a backend for
 * rounding; replaying each call on another backend with the very same inputs tests each kernel on its own.
 */
export function recordKernels(fn: () => void): KernelCall[] {
  const engine = tf.engine() as unknown as { runKernel: (name: string, inputs: object, attrs?: tf.NamedAttrMap) => tf.Tensor | tf.Tensor[] };
  const original = engine.runKernel.bind(engine);
  const calls: KernelCall[] = [];
  engine.runKernel = (kernelName, inputs, attrs) => {
    const entries = Object.entries(inputs as Record<string, tf.Tensor | undefined>).filter((e): e is [string, tf.Tensor] => e[1] != null);
    const recorded = Array.isArray(inputs) ? entries.map(([, t]) => snapshot(t)) : Object.fromEntries(entries.map(([k, t]) => [k, snapshot(t)]));
    const out = original(kernelName, inputs, attrs);
    calls.push({ kernelName, inputs: recorded, attrs: { ...(attrs ?? {}) }, outputs: (Array.isArray(out) ? out : [out]).map(snapshot) });
    return out;
  };
  try {
    fn();
  } finally {
    engine.runKernel = original;
  }
  return calls;
}

/**
 * Per kernel name: the worst relative L2 error of the replayed outputs against the recorded ones, and the call count.
 * It yields to the event loop between calls: a long synchronous replay makes vitest's worker RPC time out.
 */
export async function replayKernels(calls: KernelCall[]): Promise<Record<string, { calls: number; worst: number }>> {
  const result: Record<string, { calls: number; worst: number }> = {};
  for (const [index, call] of calls.entries()) {
    if (index % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    const make = (r: TensorRecord): tf.Tensor => tf.tensor(r.values, r.shape, r.dtype);
    const inputs = Array.isArray(call.inputs) ? call.inputs.map(make) : Object.fromEntries(Object.entries(call.inputs).map(([k, r]) => [k, make(r)]));
    const out = tf.engine().runKernel(call.kernelName, inputs as tf.NamedTensorMap, call.attrs);
    const outs = Array.isArray(out) ? out : [out];
    // Cancelling outputs (a reduction whose true result is ~0, as the gradient of a bias before a norm) are judged
    // against 1% of the inputs' norm, since their rounding error scales with the inputs, not with the result.
    const inputScale = Math.max(0, ...(Array.isArray(call.inputs) ? call.inputs : Object.values(call.inputs)).map(norm));
    let worst = outs.length === call.outputs.length ? 0 : Infinity;
    outs.forEach((t, i) => {
      const expected = call.outputs[i]!;
      const actual = t.dataSync();
      if (t.shape.join('x') !== expected.shape.join('x') || actual.length !== expected.values.length) {
        worst = Infinity;
        return;
      }
      let diff = 0;
      let norm = 0;
      for (let j = 0; j < actual.length; j++) {
        diff += (Number(actual[j]) - Number(expected.values[j])) ** 2;
        norm += Number(expected.values[j]) ** 2;
      }
      worst = Math.max(worst, Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-2 * inputScale, 1e-12));
    });
    tf.dispose([...(Object.values(inputs) as tf.Tensor[]), ...outs]);
    const entry = (result[call.kernelName] ??= { calls: 0, worst: 0 });
    entry.calls++;
    entry.worst = Math.max(entry.worst, worst);
  }
  return result;
}
