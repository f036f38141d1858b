/**
 * The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): a low-pass filter whose cutoff rises with the signal's
 * speed, so that a still face stops jittering while a moving one is not dragged behind. Used on face landmarks in
 * video, and hence on the alignment each frame is swapped in.
 *
 * For each coordinate: the derivative is low-passed at `dCutoff`, the cutoff is `minCutoff + beta·|derivative|`,
 * and the value is low-passed at that cutoff, with α = 1 / (1 + τ/Te), τ = 1/(2π·cutoff), Te the frame interval.
 */
export interface OneEuroParams {
  /** Hz. Lower: less jitter at rest, more lag. Default 1.0. */
  minCutoff: number;
  /** How fast the cutoff rises with speed (per unit of the signal per second). Default 0.05 for pixel coordinates. */
  beta: number;
  /** Hz, of the derivative's filter. Default 1.0. */
  dCutoff: number;
}

export const DEFAULT_ONE_EURO: OneEuroParams = { minCutoff: 1.0, beta: 0.05, dCutoff: 1.0 };

function alpha(cutoff: number, dt: number): number {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / dt);
}

/** A One-Euro filter over vectors of a fixed length (e.g. 5 landmarks × 2 coordinates). */
export class OneEuroFilter {
  private x: Float64Array | null = null;
  private dx: Float64Array | null = null;

  constructor(private readonly params: OneEuroParams = DEFAULT_ONE_EURO) {
    if (!(params.minCutoff > 0) || !(params.dCutoff > 0) || !(params.beta >= 0)) {
      throw new Error(`OneEuroFilter: minCutoff and dCutoff must be > 0 and beta >= 0, got ${JSON.stringify(params)}`);
    }
  }

  /** Forgets the past: the next value passes through unchanged (after a cut, or when the face was lost). */
  reset(): void {
    this.x = null;
    this.dx = null;
  }

  /** The filtered value of `value`, `dt` seconds after the previous one. */
  filter(value: ArrayLike<number>, dt: number): Float64Array {
    if (this.x === null || this.x.length !== value.length) {
      this.x = Float64Array.from(value);
      this.dx = new Float64Array(value.length);
      return Float64Array.from(this.x);
    }
    const aD = alpha(this.params.dCutoff, dt);
    const out = new Float64Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const d = (value[i]! - this.x[i]!) / dt;
      const dHat = aD * d + (1 - aD) * this.dx![i]!;
      this.dx![i] = dHat;
      const a = alpha(this.params.minCutoff + this.params.beta * Math.abs(dHat), dt);
      out[i] = a * value[i]! + (1 - a) * this.x[i]!;
    }
    this.x = out;
    return Float64Array.from(out);
  }
}
