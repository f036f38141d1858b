import * as tf from '@tensorflow/tfjs';
import { assertChannelsLast, type ConvAttrs } from './conv_util.js';
import { view, withScope, type KernelScope } from './wasm_kernel_scope.js';

type Shape4 = [number, number, number, number];

/** Upper bound on the im2col block, in floats (16 MB): it stays in the last-level cache between being written and read. */
const IM2COL_BLOCK = 1 << 22;

/**
 * dW of a conv2d on XNNPACK, which the wasm backend does not have at all.
 *
 * dW[(kh,kw,ci), co] = sum over (b,oh,ow) of x[b, oh*sh+kh-pt, ow*sw+kw-pl, ci] * dy[(b,oh,ow), co]: one GEMM of
 * the transposed im2col of x with dy, which XNNPACK's fully-connected path runs at ~30 GFLOP/s. (Measured on the
 * 3x3 64->64 bench case, the formulations on its indirect-conv path, x transposed to a batch of Cin images with
 * dy as a Ho x Wo filter dilated by the stride, reach 14-23 GFLOP/s, and that filter's packing costs more.)
 * The im2col is built in blocks of (b, oh) rows, each multiplied and summed, so memory stays bounded.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { filterShape, strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as ConvAttrs & { filterShape: Shape4 };
  assertChannelsLast(tf.Conv2DBackpropFilter, dataFormat);
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const [kh, kw, ci, co] = filterShape;
  const m = kh * kw * ci;
  const rows = info.batchSize * info.outHeight;
  const wo = info.outWidth;
  const blocks = Math.ceil(rows / Math.max(1, Math.floor(IM2COL_BLOCK / (m * wo))));
  const blockRows = Math.ceil(rows / blocks);

  return withScope(backend, (scope) => {
    const xt = channelsFirstPhased(scope, x, info.strideHeight, info.strideWidth);
    const cols = scope.alloc([m, blockRows * wo]);
    let acc: tf.TensorInfo | null = null;
    for (let r0 = 0; r0 < rows; r0 += blockRows) {
      const n = Math.min(blockRows, rows - r0);
      fillIm2colT(scope, xt, cols, info, r0, n);
      // A fresh dy block per GEMM: XNNPACK caches its packed weights by tensor id, so a reused buffer would be stale.
      const dyBlock = copyRows(scope, dy, r0 * wo * co, n * wo * co);
      const prod = scope.run(tf.BatchMatMul, { a: view(cols, [1, m, n * wo]), b: view(dyBlock, [1, n * wo, co]) }, {
        transposeA: false,
        transposeB: false,
      });
      scope.free(dyBlock);
      if (acc === null) acc = prod;
      else {
        addInto(scope, acc, prod, m * co);
        scope.free(prod);
      }
    }
    return view(acc!, [kh, kw, ci, co]);
  });
}

/**
 * x [b, h, w, c] as [c, b, sh, sw, ceil(h / sh), ceil(w / sw)]: channels outermost and each image split into its
 * stride phases, so that the pixels one im2col row takes from an image are a contiguous block (one memmove) for any
 * stride, whenever the output width equals the phase width (the usual 'same' and pad-1 cases), and a contiguous
 * run per output row otherwise.
 */
function channelsFirstPhased(scope: KernelScope, x: tf.TensorInfo, sh: number, sw: number): tf.TensorInfo {
  const [b, h, w, c] = x.shape as Shape4;
  if (sh === 1 && sw === 1) return scope.run(tf.Transpose, { x }, { perm: [3, 0, 1, 2] });
  // The wasm Transpose has no fast path above rank 4, so the phase split is a JS pass over blocks of image rows
  // that fit in L1.
  const hq = Math.ceil(h / sh);
  const wq = Math.ceil(w / sw);
  const out = scope.alloc([c, b, sh, sw, hq, wq]);
  const heap = scope.f32();
  const src = scope.offset(x);
  const dst = scope.offset(out);
  const plane = hq * wq;
  if (h % sh !== 0 || w % sw !== 0) heap.fill(0, dst, dst + c * b * sh * sw * plane);
  const blockRows = Math.max(1, Math.floor(256 / w));
  for (let n = 0; n < b; n++) {
    for (let r0 = 0; r0 < h; r0 += blockRows) {
      const r1 = Math.min(h, r0 + blockRows);
      for (let ch = 0; ch < c; ch++) {
        const chBase = dst + (ch * b + n) * sh * sw * plane;
        for (let r = r0; r < r1; r++) {
          const rowSrc = src + ((n * h + r) * w) * c + ch;
          const rowDst = chBase + (r % sh) * sw * plane + Math.floor(r / sh) * wq;
          for (let p = 0; p < sw; p++) {
            let o = rowDst + p * plane;
            for (let i = rowSrc + p * c, end = rowSrc + w * c; i < end; i += sw * c) heap[o++] = heap[i];
          }
        }
      }
    }
  }
  return out;
}

function copyRows(scope: KernelScope, src: tf.TensorInfo, start: number, size: number): tf.TensorInfo {
  const out = scope.alloc([size]);
  const heap = scope.f32();
  const s = scope.offset(src) + start;
  heap.copyWithin(scope.offset(out), s, s + size);
  return out;
}

function addInto(scope: KernelScope, acc: tf.TensorInfo, add: tf.TensorInfo, size: number): void {
  const heap = scope.f32();
  const a = scope.offset(acc);
  const b = scope.offset(add);
  for (let i = 0; i < size; i++) heap[a + i] += heap[b + i];
}

/**
 * cols[(kh,kw,ci), (r,ow)] = x[b, oh*sh+kh-pt, ow*sw+kw-pl, ci] for the `n` rows r = (b, oh) from `r0`, zero where
 * the window is in the padding. `xt` is x as [ci, b, sh, sw, hq, wq] (see `channelsFirstPhased`).
 */
function fillIm2colT(
  scope: KernelScope,
  xt: tf.TensorInfo,
  cols: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  r0: number,
  n: number,
): void {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const hq = Math.ceil(h / sh);
  const wq = Math.ceil(w / sw);
  const plane = hq * wq;
  const heap = scope.f32();
  const xBase = scope.offset(xt);
  let d = scope.offset(cols);
  for (let i = 0; i < kh; i++) {
    // Output rows whose input row ih = oh*sh + i - pt lies inside the image; ih is row (oh + rowShift) of phase rowPhase.
    const ohLo = Math.max(0, Math.ceil((pt - i) / sh));
    const ohHi = Math.min(ho, Math.floor((h - 1 + pt - i) / sh) + 1);
    const rowPhase = (((i - pt) % sh) + sh) % sh;
    const rowShift = (i - pt - rowPhase) / sh;
    for (let j = 0; j < kw; j++) {
      const owLo = Math.min(wo, Math.max(0, Math.ceil((pl - j) / sw)));
      const owHi = Math.max(owLo, Math.min(wo, Math.floor((w - 1 + pl - j) / sw) + 1));
      const colPhase = (((j - pl) % sw) + sw) % sw;
      const colShift = (j - pl - colPhase) / sw;
      const edges = owLo > 0 || owHi < wo;
      for (let c = 0; c < ci; c++) {
        for (let r = r0; r < r0 + n; ) {
          // The rows of one image in this block: [ohS, ohE) of image bi.
          const bi = (r / ho) | 0;
          const ohS = r - bi * ho;
          const ohE = Math.min(ho, ohS + r0 + n - r);
          const dImage = d + (r - r0) * wo;
          r += ohE - ohS;
          const va = Math.max(ohS, ohLo);
          const vb = Math.max(va, Math.min(ohE, ohHi));
          if (va > ohS) heap.fill(0, dImage, dImage + (va - ohS) * wo);
          if (vb < ohE) heap.fill(0, dImage + (vb - ohS) * wo, dImage + (ohE - ohS) * wo);
          if (va === vb) continue;
          if (owHi === owLo) {
            heap.fill(0, dImage + (va - ohS) * wo, dImage + (vb - ohS) * wo);
            continue;
          }
          const srcPlane = xBase + (((c * b + bi) * sh + rowPhase) * sw + colPhase) * plane;
          const dValid = dImage + (va - ohS) * wo;
          if (wq === wo) {
            // One block: the rows are adjacent in the phase plane as in cols. The columns outside [owLo, owHi)
            // receive the neighbouring rows' ends and are zeroed below.
            const first = srcPlane + (va + rowShift) * wq + owLo + colShift;
            const last = srcPlane + (vb - 1 + rowShift) * wq + owHi - 1 + colShift;
            heap.copyWithin(dValid + owLo, first, last + 1);
            if (edges) {
              for (let row = dValid, end = dValid + (vb - va) * wo; row < end; row += wo) {
                for (let k = 0; k < owLo; k++) heap[row + k] = 0;
                for (let k = owHi; k < wo; k++) heap[row + k] = 0;
              }
            }
          } else {
            for (let oh = va, row = dValid; oh < vb; oh++, row += wo) {
              if (owLo > 0) heap.fill(0, row, row + owLo);
              if (owHi < wo) heap.fill(0, row + owHi, row + wo);
              const src = srcPlane + (oh + rowShift) * wq + owLo + colShift;
              heap.copyWithin(row + owLo, src, src + owHi - owLo);
            }
          }
        }
        d += n * wo;
      }
    }
  }
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as tf.KernelFunc,
};
