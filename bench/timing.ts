import * as tf from '@tensorflow/tfjs';

/**
 * What a figure measures. `wall`: elapsed time. `cpu`: CPU time of this process (all its threads), which for a
 * single-threaded backend (wasm here, cpu) is the computation's own cost even when other processes share the
 * cores: on a loaded 2-core machine wall medians inflate 1.5-2x while CPU time stays put. Multi-threaded backends
 * (tfjs-node) need `wall`, as CPU time there sums the threads.
 */
export type Clock = 'wall' | 'cpu';
export const CLOCKS: readonly Clock[] = ['wall', 'cpu'];

export interface TimingOptions {
  /** Untimed runs first, so that wasm compilation, allocation and caches are out of the figure. */
  warmup?: number;
  /** Timed runs; the median is reported, as it is robust to a stray slow run on a shared machine. */
  runs?: number;
  /** Wall time (default) or process CPU time; see {@link Clock}. */
  clock?: Clock;
}

function now(clock: Clock): number {
  if (clock === 'wall') return performance.now();
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Median time in ms of `fn`, which returns a tensor that is read back (so async backends finish) and disposed. */
export async function medianMs(fn: () => tf.Tensor | tf.Tensor[], timing: TimingOptions = {}): Promise<number> {
  return medianAsyncMs(async () => {
    const out = tf.tidy(fn);
    const outs = Array.isArray(out) ? out : [out];
    await Promise.all(outs.map((t) => t.data()));
    tf.dispose(outs);
  }, timing);
}

/** Median time in ms of an async `fn` that finishes its own work (e.g. a training step that reads its losses back). */
export async function medianAsyncMs(fn: () => Promise<void>, { warmup = 2, runs = 5, clock = 'wall' }: TimingOptions = {}): Promise<number> {
  const once = async (): Promise<number> => {
    const start = now(clock);
    await fn();
    return now(clock) - start;
  };
  for (let i = 0; i < warmup; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
