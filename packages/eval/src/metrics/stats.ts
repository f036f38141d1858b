/** Summary statistics with a seeded bootstrap confidence interval. */
import seedrandom from 'seedrandom';

export interface MeanCI {
  mean: number;
  /** 95% percentile-bootstrap interval of the mean; equal to the mean for n = 1. */
  lo: number;
  hi: number;
  n: number;
}

/**
 * Mean and 95% percentile-bootstrap CI (2.5th and 97.5th percentiles of `resamples` resampled means).
 * Bootstrap rather than a t-interval because ID retrieval is 0/1 per pair and pose errors are skewed.
 */
export function meanCI(values: readonly number[], options: { seed?: number; resamples?: number } = {}): MeanCI {
  const n = values.length;
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, n: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n === 1) return { mean, lo: mean, hi: mean, n };
  const resamples = options.resamples ?? 2000;
  const rand = seedrandom(String(options.seed ?? 0));
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(rand() * n)]!;
    means[r] = s / n;
  }
  means.sort();
  const at = (q: number): number => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))]!;
  return { mean, lo: at(0.025), hi: at(0.975), n };
}
