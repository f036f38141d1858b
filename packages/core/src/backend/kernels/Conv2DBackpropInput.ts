import * as tf from '@tensorflow/tfjs';
import { assertChannelsLast, axisPhases, inputGradByPhases, phaseFilter, type ConvAttrs } from './conv_util.js';
import { col2imAdd, transpose2d, weightsDominate } from './conv_gemm.js';
import { stockSetup } from './stock_kernels.js';
import { view, withScope } from './wasm_kernel_scope.js';

type Shape4 = [number, number, number, number];

/**
 * dx of a conv2d, which is also the forward pass of tf.conv2dTranspose (the U-Net up blocks), on XNNPACK.
 *
 * The wasm backend's own kernel is a scalar loop (~2 GFLOP/s). Here dx is a stride-1 conv of dy with the
 * 180°-rotated, in/out-swapped filter; for stride s it is split into s x s output phases, each a stride-1
 * conv with the sub-filter of the taps that reach it, scattered into dx. Padding of every kind, odd sizes and
 * filters smaller than the stride (phases with no taps are zero) follow from `axisPhases`.
 *
 * Weight-heavy layers (fewer dy pixels than dy channels, e.g. the U-Net's 1024-channel transposed convs at 2x2)
 * skip the filter preparation and packing, which would dominate there: dx is the col2im of one GEMM,
 * filter[(kh,kw,ci), co] x dy^T[co, (b,oh,ow)], with the filter as the GEMM's unpacked left operand.
 */
function conv2DBackpropInput({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { inputShape, strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  assertChannelsLast(tf.Conv2DBackpropInput, dataFormat);
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const [, h, w] = inputShape;
  const phasesH = axisPhases(h, info.filterHeight, info.strideHeight, info.padInfo.top, info.outHeight);
  const phasesW = axisPhases(w, info.filterWidth, info.strideWidth, info.padInfo.left, info.outWidth);
  const [kh, kw, ci, co] = filter.shape as Shape4;
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  return withScope(backend, (scope) => {
    if (weightsDominate(pixels, co)) {
      const dyT = transpose2d(scope, dy, pixels, co);
      const cols = scope.run(tf.BatchMatMul, { a: view(filter, [1, kh * kw * ci, co]), b: view(dyT, [1, co, pixels]) }, {
        transposeA: false,
        transposeB: false,
      });
      scope.free(dyT);
      const dx = scope.zeros(inputShape);
      col2imAdd(scope, cols, dx, info);
      return dx;
    }
    return inputGradByPhases(scope, 'Conv2D', dy, (th, tw) => phaseFilter(scope, filter, th, tw), inputShape, phasesH, phasesW);
  });
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as tf.KernelFunc,
  setupFunc: stockSetup(tf.Conv2DBackpropInput),
};
