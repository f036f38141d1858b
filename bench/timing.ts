import * as tf from '@tensorflow/tfjs';

export interface TimingOptions {
  /** Untimed runs first, so that wasm compilation, allocation and caches are out of the figure. */
  warmup?: number;
  /** Timed runs; the median is reported, as it is robust to a stray slow run on a shared machine. */
  runs?: number;
}

/** Median wall time in ms of `fn`, which returns a tensor that is read back (so async backends finish) and disposed. */
export async function medianMs(fn: () => tf.Tensor | tf.Tensor[], { warmup = 2, runs = 5 }: TimingOptions = {}): Promise<number> {
  const once = async (): Promise<number> => {
    const start = performance.now();
    const out = tf.tidy(fn);
    const outs = Array.isArray(out) ? out : [out];
    await Promise.all(outs.map((t) => t.data()));
    const ms = performance.now() - start;
    tf.dispose(outs);
    return ms;
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
