/**
 * Temporal stability of a swapped video: how much the swapped face changes from one frame to the next, against how
 * much the target's own face does, both measured on the aligned crops (so head motion that the alignment follows
 * does not count) and inside the blend mask (the pixels the swap changes).
 *
 * ratio = mean_t |Ŷ_t − Ŷ_{t−1}| / mean_t |X_t − X_{t−1}|: 1 means the swap flickers no more than the footage
 * itself; above 1 is flicker the swap adds (jitter of the alignment, identity or texture changing between frames).
 */
import type { RawImage } from '@faceshifter/core/node';

export interface TemporalStability {
  /** Mean absolute frame-to-frame change of the swapped crops, 0–255 scale, inside the mask. */
  swapChange: number;
  /** The same for the target's aligned crops. */
  targetChange: number;
  /** swapChange / targetChange. */
  ratio: number;
  /** Consecutive frame pairs measured. */
  pairs: number;
}

function maskedChange(a: RawImage, b: RawImage, mask: Float32Array): [number, number] {
  let s = 0;
  let w = 0;
  const c = a.channels;
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i]!;
    if (m <= 0) continue;
    let d = 0;
    for (let k = 0; k < c; k++) d += Math.abs(a.data[i * c + k]! - b.data[i * c + k]!);
    s += (m * d) / c;
    w += m;
  }
  return [s, w];
}

/** Accumulates the measure over a run of consecutive frames; a gap (lost face) starts a new run. */
export class TemporalStabilityMeter {
  private previous: { crop: RawImage; swapped: RawImage } | null = null;
  private swap = 0;
  private target = 0;
  private weight = 0;
  private pairs = 0;

  add(crop: RawImage, swapped: RawImage, mask: Float32Array): void {
    if (this.previous) {
      const [s, w] = maskedChange(this.previous.swapped, swapped, mask);
      const [t] = maskedChange(this.previous.crop, crop, mask);
      this.swap += s;
      this.target += t;
      this.weight += w;
      this.pairs++;
    }
    this.previous = { crop, swapped };
  }

  /** The face was lost: the next frame does not follow this one. */
  gap(): void {
    this.previous = null;
  }

  result(): TemporalStability {
    const swapChange = this.weight ? this.swap / this.weight : 0;
    const targetChange = this.weight ? this.target / this.weight : 0;
    return { swapChange, targetChange, ratio: targetChange > 0 ? swapChange / targetChange : swapChange > 0 ? Infinity : 1, pairs: this.pairs };
  }
}
