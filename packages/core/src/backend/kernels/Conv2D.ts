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

/** Whether a forward conv takes the GEMM path: NHWC, no dilation, and more output channels than output pixels. */
export function forwardTakesGemm(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: Conv2DAttrs): tf.backend_util.Conv2DInfo | null {
  if (attrs.dataFormat === 'NCHW') return null;
  const d = attrs.dilations ?? 1;
  if ((typeof d === 'number' ? d : Math.max(...d)) !== 1) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
  return weightsDominate(info.batchSize * info.outHeight * info.outWidth, info.outChannels) ? info : null;
}

/**
 * Forward conv2d: XNNPACK's conv for activation-heavy layers (unchanged), one im2col GEMM for weight-heavy ones,
 * where the conv path's filter packing would cost 10-30x the convolution itself (see conv_gemm.ts).
 */
function conv2D(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const info = forwardTakesGemm(x, filter, args.attrs as unknown as Conv2DAttrs);
  if (info === null) return wasmKernel(tf.Conv2D).kernelFunc(args);
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
