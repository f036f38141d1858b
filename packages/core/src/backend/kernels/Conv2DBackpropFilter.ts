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
    const xt = channelsFirstPhased(scope, x, info.strideWidth);
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
 * x [b, h, w, c] as [c, b, h, sw, ceil(w / sw)]: channels outermost and each image row split into its `sw` column
 * phases, so that every im2col row is a set of contiguous runs (one memmove each) whatever the stride.
 */
function channelsFirstPhased(scope: KernelScope, x: tf.TensorInfo, sw: number): tf.TensorInfo {
  const [b, h, w, c] = x.shape as Shape4;
  if (w % sw === 0) {
    // [b*h, w/sw, sw, c] -> [c, b*h, sw, w/sw] is rank 4; the wasm Transpose is ~20x slower at rank 5.
    return scope.run(tf.Transpose, { x: view(x, [b * h, w / sw, sw, c]) }, { perm: [3, 0, 2, 1] });
  }
  // Odd widths (the discriminator's 65, 129...): a JS pass over blocks of image rows that fit in L1.
  const wq = Math.ceil(w / sw);
  const rowLen = sw * wq;
  const rows = b * h;
  const out = scope.alloc([c, b, h, sw, wq]);
  const heap = scope.f32();
  const src = scope.offset(x);
  const dst = scope.offset(out);
  const blockRows = Math.max(1, Math.floor(256 / w));
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const r1 = Math.min(rows, r0 + blockRows);
    for (let ch = 0; ch < c; ch++) {
      let o = dst + (ch * rows + r0) * rowLen;
      for (let r = r0; r < r1; r++) {
        const rowSrc = src + r * w * c + ch;
        for (let p = 0; p < sw; p++) {
          let q = 0;
          for (let i = rowSrc + p * c, end = rowSrc + w * c; i < end; i += sw * c, q++) heap[o + q] = heap[i];
          for (; q < wq; q++) heap[o + q] = 0;
          o += wq;
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
 * the window is in the padding. `xt` is x as [ci, b, h, sw, wq] (see `channelsFirstPhased`).
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
  const wq = Math.ceil(w / sw);
  const rowLen = sw * wq;
  const heap = scope.f32();
  const xBase = scope.offset(xt);
  let d = scope.offset(cols);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      // Output columns whose input column iw = ow*sw + j - pl lies inside the image; iw's phase and its
      // position within the phase, (iw - phase) / sw = ow + shift, advance by one per output column.
      const owLo = Math.min(wo, Math.max(0, Math.ceil((pl - j) / sw)));
      const owHi = Math.max(owLo, Math.min(wo, Math.floor((w - 1 + pl - j) / sw) + 1));
      const run = owHi - owLo;
      const phase = (((j - pl) % sw) + sw) % sw;
      const shift = (j - pl - phase) / sw;
      const colOffset = phase * wq + owLo + shift;
      for (let c = 0; c < ci; c++) {
        for (let r = r0; r < r0 + n; r++, d += wo) {
          const bi = (r / ho) | 0;
          const ih = (r - bi * ho) * sh + i - pt;
          if (ih < 0 || ih >= h || run === 0) {
            heap.fill(0, d, d + wo);
            continue;
          }
          if (owLo > 0) heap.fill(0, d, d + owLo);
          if (owHi < wo) heap.fill(0, d + owHi, d + wo);
          const src = xBase + ((c * b + bi) * h + ih) * rowLen + colOffset;
          heap.copyWithin(d + owLo, src, src + run);
        }
      }
    }
  }
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as tf.KernelFunc,
};
