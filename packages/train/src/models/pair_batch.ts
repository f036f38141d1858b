import type * as tf from '@tensorflow/tfjs';

/** One training batch of (X_s, X_t) pairs, images B×R×R×3 in [−1, 1]. */
export interface PairBatch {
  source: tf.Tensor4D;
  target: tf.Tensor4D;
  /** [B], 1 where X_s = X_t (the same image), else 0. */
  same: tf.Tensor1D;
}

/** Where batches come from; the trainer saves and restores its state so that a resumed run sees the same data. */
export interface PairBatchSource {
  next(): Promise<PairBatch>;
  /** JSON-serialisable position and RNG state, as of the last batch returned by {@link next}. */
  state(): unknown;
  restore(state: unknown): void;
  /** Unreadable files skipped so far (logged as data/skipped), where the source skips bad data. */
  readonly skipped?: number;
  dispose(): void;
}
