import * as tf from '@tensorflow/tfjs';
import type { KernelScope } from './wasm_kernel_scope.js';

/**
 * Convolutions as one XNNPACK GEMM (the BatchMatMul kernel's fully-connected path), for layers whose weights
 * outweigh their activations: the generator's 1024-channel blocks at 2x2..16x16 and the U-Net's transposed convs.
 *
 * XNNPACK packs a conv filter into its own layout when it first sees it, after the wasm backend has transposed it
 * with an untiled loop; that is paid on every training step, since the optimizer makes new weight tensors. Measured
 * on a 3x3 1024->1024 filter applied to 2x2 maps: 140-300 ms for the first call, 3-7 ms once packed. The
 * fully-connected path packs a [k, n] weight matrix from its natural layout (~1.5 ns per weight, i.e. ~15 ms
 * there), and the input gradient takes the filter as the GEMM's unpacked left operand, packing only dy.
 */

/**
 * The GEMM path pays for an im2col (or col2im) of `pixels` x (kh*kw*cin) floats in place of packing kh*kw*cin*cout
 * weights on the conv path, so it wins when the layer has fewer output pixels than output channels.
 */
export function weightsDominate(pixels: number, outChannels: number): boolean {
  return pixels <= outChannels;
}

/**
 * im2col in row order: cols[(b,oh,ow), (kh,kw,ci)] = x[b, oh*sh+kh-pt, ow*sw+kw-pl, ci], zero in the padding.
 * Each (pixel, tap) is one run of ci contiguous floats. Returns `x` itself for a 1x1, stride-1, unpadded conv.
 */
export function im2colRows(scope: KernelScope, x: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && pt === 0 && pl === 0 && ho === h && wo === w) return x;
  const rowLen = kh * kw * ci;
  const cols = scope.alloc([b * ho * wo, rowLen]);
  const heap = scope.f32();
  const xBase = scope.offset(x);
  let d = scope.offset(cols);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let u = 0; u < kh; u++) {
          const ih = i * sh + u - pt;
          if (ih < 0 || ih >= h) {
            heap.fill(0, d, d + kw * ci);
            d += kw * ci;
            continue;
          }
          const rowBase = xBase + (n * h + ih) * w * ci;
          for (let v = 0; v < kw; v++, d += ci) {
            const iw = j * sw + v - pl;
            if (iw < 0 || iw >= w) heap.fill(0, d, d + ci);
            else heap.copyWithin(d, rowBase + iw * ci, rowBase + (iw + 1) * ci);
          }
        }
      }
    }
  }
  return cols;
}

/**
 * col2im: dx[b, oh*sh+kh-pt, ow*sw+kw-pl, ci] += cols[(kh,kw,ci), (b,oh,ow)] over every tap, into a zeroed
 * NHWC `dx`. `cols` is the GEMM product filter[(kh,kw,ci), co] x dy^T[co, (b,oh,ow)].
 */
export function col2imAdd(scope: KernelScope, cols: tf.TensorInfo, dx: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const heap = scope.f32();
  const dxBase = scope.offset(dx);
  let s = scope.offset(cols);
  for (let u = 0; u < kh; u++) {
    for (let v = 0; v < kw; v++) {
      for (let c = 0; c < ci; c++) {
        for (let n = 0; n < b; n++) {
          for (let i = 0; i < ho; i++) {
            const ih = i * sh + u - pt;
            if (ih < 0 || ih >= h) {
              s += wo;
              continue;
            }
            const rowBase = dxBase + (n * h + ih) * w * ci + c;
            for (let j = 0; j < wo; j++, s++) {
              const iw = j * sw + v - pl;
              if (iw >= 0 && iw < w) heap[rowBase + iw * ci] += heap[s];
            }
          }
        }
      }
    }
  }
}

/** dy [p, co] transposed to [co, p] (small: only used when pixels <= channels). */
export function transpose2d(scope: KernelScope, x: tf.TensorInfo, rows: number, cols: number): tf.TensorInfo {
  const out = scope.alloc([cols, rows]);
  const heap = scope.f32();
  const src = scope.offset(x);
  const dst = scope.offset(out);
  for (let r = 0; r < rows; r++) {
    for (let c = 0, i = src + r * cols, o = dst + r; c < cols; c++, i++, o += rows) heap[o] = heap[i];
  }
  return out;
}
