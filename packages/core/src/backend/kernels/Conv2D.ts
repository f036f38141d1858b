import * as tf from '@tensorflow/tfjs';
import { im2colRows, weightsDominate } from './conv_gemm.js';
import { stockSetup, wasmKernel } from './stock_kernels.js';
import { view, withScope } from './wasm_kernel_scope.js';

type Shape4 = [number, number, number, number];

interface Conv2DAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export interface ForwardPlan {
  /** Conv geometry, when the conv takes the GEMM path. */
  gemm: tf.backend_util.Conv2DInfo | null;
  /** The attributes for the stock XNNPACK kernel, when it runs. */
  stockAttrs: Record<string, unknown>;
}

/**
 * GEMM path for NHWC, undilated, weight-heavy convs (more output channels than output pixels). For the stock path,
 * a numeric pad with a rounding mode becomes the explicit padding that yields tfjs's output size: the stock kernel
 * hands XNNPACK the pad as given, and XNNPACK's floor rounding then disagrees with 'ceil' (a wrong, short output).
 */
export function planForward(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: Conv2DAttrs): ForwardPlan {
  const d = attrs.dilations ?? 1;
  const dilated = (typeof d === 'number' ? d : Math.max(...d)) !== 1;
  if (attrs.dataFormat === 'NCHW' || dilated) return { gemm: null, stockAttrs: attrs as unknown as Record<string, unknown> };
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  const gemm = weightsDominate(info.batchSize * info.outHeight * info.outWidth, info.outChannels) ? info : null;
  if (typeof attrs.pad !== 'number' || attrs.dimRoundingMode === undefined) {
    return { gemm, stockAttrs: attrs as unknown as Record<string, unknown> };
  }
  const { top, left } = info.padInfo;
  const bottom = Math.max(0, (info.outHeight - 1) * info.strideHeight + info.filterHeight - info.inHeight - top);
  const right = Math.max(0, (info.outWidth - 1) * info.strideWidth + info.filterWidth - info.inWidth - left);
  const pad: tf.backend_util.ExplicitPadding = [[0, 0], [top, bottom], [left, right], [0, 0]];
  return { gemm, stockAttrs: { ...attrs, pad, dimRoundingMode: undefined } };
}

/**
 * Forward conv2d: XNNPACK's conv for activation-heavy layers (unchanged), one im2col GEMM for weight-heavy ones,
 * where the conv path's per-step filter packing costs many times the convolution itself (see conv_gemm.ts).
 */
function conv2D(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const { gemm: info, stockAttrs } = planForward(x, filter, args.attrs as unknown as Conv2DAttrs);
  if (info === null) return wasmKernel(tf.Conv2D).kernelFunc({ ...args, attrs: stockAttrs as tf.NamedAttrMap });
  return withScope(args.backend, (scope) => {
    const cols = im2colRows(scope, x, info);
    const k = info.filterHeight * info.filterWidth * info.inChannels;
    const p = info.batchSize * info.outHeight * info.outWidth;
    const y = scope.run(tf.BatchMatMul, { a: view(cols, [1, p, k]), b: view(filter, [1, k, info.outChannels]) }, {
      transposeA: false,
      transposeB: false,
    });
    return view(y, info.outShape);
  });
}

export const conv2DConfig: tf.KernelConfig = {
  kernelName: tf.Conv2D,
  backendName: 'wasm',
  kernelFunc: conv2D as tf.KernelFunc,
  setupFunc: stockSetup(tf.Conv2D),
};
