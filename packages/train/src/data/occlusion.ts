import seedrandom from 'seedrandom';
import type { RawImage } from '@faceshifter/core/node';

/**
 * Synthetic occlusions for HEAR-Net training (faceshifter.md §10). The paper pastes hands (EgoHands, GTEA) and
 * objects (ShapeNet renders) onto faces; no such dataset ships in a package, so occluders are made here:
 *
 * - **shape**: a procedural object, a random polygon or ellipse filled with a flat colour, a gradient, stripes, a
 *   checkerboard or noise (glasses, microphones, cups and hands are, at 64–256 px, mostly textured blobs);
 * - **patch**: a region cut from another image of the batch with a soft elliptical alpha (real skin, hair and
 *   backgrounds, the texture statistics a real occluder has);
 * - **user**: RGBA cut-outs from a folder (e.g. EgoHands hand masks), when the config names one. With user
 *   occluders, they take the paper's "hand" slot and procedural shapes the "object" slot.
 *
 * As in the paper, 25% of images get none, 25% one kind, 25% the other, and 25% both, each pasted at a random scale
 * of 0.5–1 and a random rotation of ±90°. Everything is drawn from one seeded generator whose state is saved with a
 * checkpoint, so augmentation is deterministic and resumable.
 */
export interface OcclusionOptions {
  /** Scale range of an occluder, relative to half the image side. Paper: 0.5–1. */
  scale?: [number, number];
  /** Maximum rotation in degrees, either way. Paper: 90. */
  maxRotationDeg?: number;
  /** RGBA cut-outs to use as the "hand" kind instead of image patches. */
  userOccluders?: RawImage[];
}

export type OcclusionKind = 'none' | 'first' | 'second' | 'both';

/** An image in HWC float layout, values in [-1, 1], as the training batches hold them. */
export interface FloatImage {
  width: number;
  height: number;
  data: Float32Array;
}

interface Rgba {
  width: number;
  height: number;
  /** RGB in [-1, 1]. */
  rgb: Float32Array;
  /** Alpha in [0, 1]. */
  alpha: Float32Array;
}

export class OcclusionAugmenter {
  private rng: seedrandom.prng;
  private readonly scale: [number, number];
  private readonly maxRotation: number;
  private readonly user: Rgba[];

  constructor(seed: string | number, options: OcclusionOptions = {}) {
    this.rng = seedrandom(String(seed), { state: true });
    this.scale = options.scale ?? [0.5, 1];
    this.maxRotation = ((options.maxRotationDeg ?? 90) * Math.PI) / 180;
    this.user = (options.userOccluders ?? []).map((img, i) => {
      if (img.channels !== 4) throw new Error(`user occluder #${i} has ${img.channels} channels; occluders must be RGBA PNGs with transparency.`);
      return toRgba(img);
    });
  }

  /** The generator state, to store in a checkpoint. */
  state(): object {
    return this.rng.state();
  }

  restore(state: object): void {
    this.rng = seedrandom('', { state });
  }

  /**
   * Occludes each image of a batch in place of a copy: image i may take a patch from image (i + 1) mod B.
   * Returns the new images and the kind applied to each.
   */
  apply(batch: FloatImage[]): { images: FloatImage[]; kinds: OcclusionKind[] } {
    const kinds: OcclusionKind[] = [];
    const images = batch.map((image, i) => {
      const kind = (['none', 'first', 'second', 'both'] as const)[Math.floor(this.rng() * 4)]!;
      kinds.push(kind);
      const out = { width: image.width, height: image.height, data: Float32Array.from(image.data) };
      const donor = batch[(i + 1) % batch.length]!;
      if (kind === 'first' || kind === 'both') this.paste(out, this.user.length ? this.pick(this.user) : this.patch(donor));
      if (kind === 'second' || kind === 'both') this.paste(out, this.shape());
      return out;
    });
    return { images, kinds };
  }

  private uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.rng();
  }

  private pick<T>(items: T[]): T {
    return items[Math.floor(this.rng() * items.length)]!;
  }

  /** A procedural object: polygon or ellipse, with one of five fills. */
  private shape(): Rgba {
    const size = 64;
    const rgb = new Float32Array(size * size * 3);
    const alpha = new Float32Array(size * size);
    const c1 = [this.uniform(-1, 1), this.uniform(-1, 1), this.uniform(-1, 1)];
    const c2 = [this.uniform(-1, 1), this.uniform(-1, 1), this.uniform(-1, 1)];
    const fill = Math.floor(this.rng() * 5);
    const period = this.uniform(4, 16);
    const angle = this.uniform(0, Math.PI);
    const inside = this.rng() < 0.5 ? this.ellipseMask() : this.polygonMask();
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const u = x / (size - 1);
        const v = y / (size - 1);
        const a = inside(u, v);
        const p = y * size + x;
        alpha[p] = a;
        const along = (x * Math.cos(angle) + y * Math.sin(angle)) / period;
        let t = 0;
        if (fill === 1) t = u; // gradient
        else if (fill === 2) t = Math.floor(along) % 2 === 0 ? 0 : 1; // stripes
        else if (fill === 3) t = (Math.floor(x / period) + Math.floor(y / period)) % 2; // checkerboard
        else if (fill === 4) t = this.rng(); // noise
        for (let c = 0; c < 3; c++) rgb[p * 3 + c] = c1[c]! * (1 - t) + c2[c]! * t;
      }
    }
    return { width: size, height: size, rgb, alpha };
  }

  private ellipseMask(): (u: number, v: number) => number {
    const rx = this.uniform(0.25, 0.5);
    const ry = this.uniform(0.25, 0.5);
    return (u, v) => (((u - 0.5) / rx) ** 2 + ((v - 0.5) / ry) ** 2 <= 1 ? 1 : 0);
  }

  /** A star-shaped polygon around the centre: 3–9 vertices at random radii, so it can be convex or not. */
  private polygonMask(): (u: number, v: number) => number {
    const n = 3 + Math.floor(this.rng() * 7);
    const radii = Array.from({ length: n }, () => this.uniform(0.2, 0.5));
    const offset = this.uniform(0, 2 * Math.PI);
    return (u, v) => {
      const dx = u - 0.5;
      const dy = v - 0.5;
      let theta = Math.atan2(dy, dx) - offset;
      theta = ((theta % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
      const sector = (theta / (2 * Math.PI)) * n;
      const i = Math.floor(sector);
      const f = sector - i;
      const r = radii[i % n]! * (1 - f) + radii[(i + 1) % n]! * f;
      return Math.hypot(dx, dy) <= r ? 1 : 0;
    };
  }

  /** A region of another image with a soft elliptical alpha. */
  private patch(donor: FloatImage): Rgba {
    const w = Math.max(4, Math.round(donor.width * this.uniform(0.3, 0.6)));
    const h = Math.max(4, Math.round(donor.height * this.uniform(0.3, 0.6)));
    const x0 = Math.floor(this.rng() * (donor.width - w + 1));
    const y0 = Math.floor(this.rng() * (donor.height - h + 1));
    const rgb = new Float32Array(w * h * 3);
    const alpha = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = ((y0 + y) * donor.width + (x0 + x)) * 3;
        rgb.set(donor.data.subarray(src, src + 3), (y * w + x) * 3);
        const d = Math.hypot((x + 0.5) / w - 0.5, (y + 0.5) / h - 0.5) * 2;
        alpha[y * w + x] = Math.min(1, Math.max(0, (1 - d) / 0.3)); // feathered edge, 15% of the radius
      }
    }
    return { width: w, height: h, rgb, alpha };
  }

  /** Alpha-composites `occ` onto `image`, scaled, rotated and placed so that it covers part of the central face. */
  private paste(image: FloatImage, occ: Rgba): void {
    const { width: W, height: H, data } = image;
    const target = (Math.min(W, H) / 2) * this.uniform(this.scale[0], this.scale[1]);
    const s = target / Math.max(occ.width, occ.height);
    const theta = this.uniform(-this.maxRotation, this.maxRotation);
    const cx = W * this.uniform(0.2, 0.8);
    const cy = H * this.uniform(0.2, 0.8);
    const cos = Math.cos(theta);
    const sin = Math.sin(theta);
    const reach = (Math.hypot(occ.width, occ.height) * s) / 2 + 1;
    for (let y = Math.max(0, Math.floor(cy - reach)); y < Math.min(H, Math.ceil(cy + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x < Math.min(W, Math.ceil(cx + reach)); x++) {
        // Inverse map the pixel centre into the occluder's frame.
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        const u = (cos * dx + sin * dy) / s + occ.width / 2 - 0.5;
        const v = (-sin * dx + cos * dy) / s + occ.height / 2 - 0.5;
        const sample = bilinear(occ, u, v);
        if (sample === null || sample.alpha <= 0) continue;
        const p = (y * W + x) * 3;
        for (let c = 0; c < 3; c++) data[p + c] = data[p + c]! * (1 - sample.alpha) + sample.rgb[c]! * sample.alpha;
      }
    }
  }
}

function bilinear(occ: Rgba, u: number, v: number): { rgb: number[]; alpha: number } | null {
  if (u < -0.5 || v < -0.5 || u > occ.width - 0.5 || v > occ.height - 0.5) return null;
  const x0 = Math.max(0, Math.min(occ.width - 1, Math.floor(u)));
  const y0 = Math.max(0, Math.min(occ.height - 1, Math.floor(v)));
  const x1 = Math.min(occ.width - 1, x0 + 1);
  const y1 = Math.min(occ.height - 1, y0 + 1);
  const fx = Math.min(1, Math.max(0, u - x0));
  const fy = Math.min(1, Math.max(0, v - y0));
  const w = [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy];
  const idx = [y0 * occ.width + x0, y0 * occ.width + x1, y1 * occ.width + x0, y1 * occ.width + x1];
  let alpha = 0;
  const rgb = [0, 0, 0];
  for (let k = 0; k < 4; k++) {
    const a = occ.alpha[idx[k]!]! * w[k]!;
    alpha += a;
    for (let c = 0; c < 3; c++) rgb[c]! += occ.rgb[idx[k]! * 3 + c]! * a;
  }
  if (alpha <= 0) return { rgb, alpha: 0 };
  // Colours are alpha-weighted so that transparent neighbours do not darken the edge.
  return { rgb: rgb.map((c) => c / alpha), alpha };
}

function toRgba(img: RawImage): Rgba {
  const n = img.width * img.height;
  const rgb = new Float32Array(n * 3);
  const alpha = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = img.data[p * 4 + c]! / 127.5 - 1;
    alpha[p] = img.data[p * 4 + 3]! / 255;
  }
  return { width: img.width, height: img.height, rgb, alpha };
}
