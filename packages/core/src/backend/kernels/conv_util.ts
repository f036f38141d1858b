import * as tf from '@tensorflow/tfjs';
import type { KernelScope } from './wasm_kernel_scope.js';

/** Conv attributes as the conv kernels receive them. */
export interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

/** The wasm backend's XNNPACK convolutions are NHWC only, as is everything this project builds. */
export function assertChannelsLast(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm supports dataFormat 'NHWC' only, got '${dataFormat}'; transpose the input to NHWC.`);
  }
}

export function assertNoDilation(kernelName: string, dilations: number | [number, number] | undefined): void {
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : (dilations ?? [1, 1]);
  if (dh !== 1 || dw !== 1) {
    throw new Error(`${kernelName} on wasm supports dilation 1 only, got [${dh}, ${dw}].`);
  }
}

/**
 * One output phase, along one spatial axis, of a strided convolution's input gradient.
 *
 * The input positions `stride * i + r` receive contributions from the filter taps `k` with
 * `(r + padBefore - k) % stride == 0` only, so each phase is a stride-1 convolution of dy with those taps
 * (a 2-tap sub-filter for 4x4 stride 2), and no work is spent on the zeros that dilating dy would insert.
 */
export interface AxisPhase {
  /** This phase covers input positions `stride * i + r`. */
  r: number;
  /** Number of input positions in the phase. */
  len: number;
  /** Original filter index of each sub-filter tap, in the (flipped) order of the stride-1 convolution. */
  taps: number[];
  /** Padding of dy before and after for that convolution; negative means cropping dy. */
  before: number;
  after: number;
}

/** The `stride` phases of one axis: input length `inLen`, filter size `k`, forward padding `padBefore`, dy length `outLen`. */
export function axisPhases(inLen: number, k: number, stride: number, padBefore: number, outLen: number): AxisPhase[] {
  const phases: AxisPhase[] = [];
  for (let r = 0; r < stride; r++) {
    const len = r < inLen ? Math.ceil((inLen - r) / stride) : 0;
    const k0 = (((r + padBefore) % stride) + stride) % stride;
    const count = k0 < k ? Math.ceil((k - k0) / stride) : 0;
    const d = (r + padBefore - k0) / stride;
    const taps: number[] = [];
    for (let u = 0; u < count; u++) taps.push(k0 + stride * (count - 1 - u));
    const before = count - 1 - d;
    const after = len + count - 1 - outLen - before;
    phases.push({ r, len, taps, before, after });
  }
  return phases;
}

/**
 * Stride-1 NHWC convolution on XNNPACK (`Conv2D`, or `DepthwiseConv2dNative`) with signed explicit padding:
 * negative padding crops `x` first (XNNPACK takes only non-negative padding). Returns null when nothing of `x`
 * is inside the window, i.e. the result is all zeros.
 */
export function convSignedPad(
  scope: KernelScope,
  kernelName: 'Conv2D' | 'DepthwiseConv2dNative',
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  [top, bottom]: [number, number],
  [left, right]: [number, number],
  dilations: [number, number] = [1, 1],
): tf.TensorInfo | null {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  const hIn = h - cropTop - cropBottom;
  const wIn = w - cropLeft - cropRight;
  if (hIn <= 0 || wIn <= 0) return null;
  let input = x;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    // The wasm Slice kernel reads the whole tensor back into JS first; a window copy on the heap is far cheaper.
    input = scope.alloc([b, hIn, wIn, c]);
    const heap = scope.f32();
    let src = scope.offset(x) + (cropTop * w + cropLeft) * c;
    let dst = scope.offset(input);
    for (let n = 0; n < b; n++, src += (cropTop + cropBottom) * w * c) {
      for (let i = 0; i < hIn; i++, src += w * c, dst += wIn * c) heap.copyWithin(dst, src, src + wIn * c);
    }
  }
  const pad: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  return scope.run(kernelName, { x: input, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations });
}

/**
 * Copies one phase [B, lenH, lenW, C] (starting at heap index `src`; -1 writes zeros) into every (sh, sw)-th
 * position of the NHWC output [B, H, W, C] that starts at heap index `dst`.
 */
export function scatterPhase(
  heap: Float32Array,
  src: number,
  dst: number,
  [b, lenH, lenW, c]: [number, number, number, number],
  [h, w]: [number, number],
  [ry, rx]: [number, number],
  [sh, sw]: [number, number],
): void {
  const rowOut = w * c;
  const step = sw * c;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < lenH; i++) {
      let o = dst + (n * h + sh * i + ry) * rowOut + rx * c;
      if (sw === 1) {
        if (src < 0) heap.fill(0, o, o + lenW * c);
        else {
          heap.copyWithin(o, src, src + lenW * c);
          src += lenW * c;
        }
        continue;
      }
      for (let j = 0; j < lenW; j++, o += step) {
        if (src < 0) heap.fill(0, o, o + c);
        else {
          for (let k = 0; k < c; k++) heap[o + k] = heap[src + k];
          src += c;
        }
      }
    }
  }
}

/**
 * The stride-1 correlation filter that maps dy to one phase of dx: taps `tapsH` x `tapsW` of the forward
 * filter [kh, kw, ci, co], with input and output channels swapped to [tapsH, tapsW, co, ci].
 */
export function phaseFilter(scope: KernelScope, filter: tf.TensorInfo, tapsH: number[], tapsW: number[]): tf.TensorInfo {
  const [, kw, ci, co] = filter.shape as [number, number, number, number];
  const out = scope.alloc([tapsH.length, tapsW.length, co, ci]);
  const heap = scope.f32();
  const src = scope.offset(filter);
  let d = scope.offset(out);
  for (const th of tapsH) {
    for (const tw of tapsW) {
      const base = src + (th * kw + tw) * ci * co;
      for (let o = 0; o < co; o++) {
        for (let i = 0, s = base + o; i < ci; i++, s += co) heap[d++] = heap[s];
      }
    }
  }
  return out;
}

/**
 * The input gradient of a strided NHWC convolution assembled from its output phases (see `AxisPhase`): each phase
 * is a stride-1 `kernelName` convolution of dy with `phaseFilterFor(tapsH, tapsW)`, scattered into `outShape`.
 */
export function inputGradByPhases(
  scope: KernelScope,
  kernelName: 'Conv2D' | 'DepthwiseConv2dNative',
  dy: tf.TensorInfo,
  phaseFilterFor: (tapsH: number[], tapsW: number[]) => tf.TensorInfo,
  outShape: [number, number, number, number],
  phasesH: AxisPhase[],
  phasesW: AxisPhase[],
): tf.TensorInfo {
  const [b, h, w, c] = outShape;
  const sh = phasesH.length;
  const sw = phasesW.length;
  if (sh === 1 && sw === 1) {
    const [ph, pw] = [phasesH[0]!, phasesW[0]!];
    if (ph.taps.length === 0 || pw.taps.length === 0) return scope.zeros(outShape);
    const f = phaseFilterFor(ph.taps, pw.taps);
    return convSignedPad(scope, kernelName, dy, f, [ph.before, ph.after], [pw.before, pw.after]) ?? scope.zeros(outShape);
  }
  const out = scope.alloc(outShape);
  for (const ph of phasesH) {
    for (const pw of phasesW) {
      if (ph.len === 0 || pw.len === 0) continue;
      let result: tf.TensorInfo | null = null;
      if (ph.taps.length > 0 && pw.taps.length > 0) {
        const f = phaseFilterFor(ph.taps, pw.taps);
        result = convSignedPad(scope, kernelName, dy, f, [ph.before, ph.after], [pw.before, pw.after]);
        scope.free(f);
      }
      const heap = scope.f32();
      const src = result ? scope.offset(result) : -1;
      scatterPhase(heap, src, scope.offset(out), [b, ph.len, pw.len, c], [h, w], [ph.r, pw.r], [sh, sw]);
      if (result) scope.free(result);
    }
  }
  return out;
}
