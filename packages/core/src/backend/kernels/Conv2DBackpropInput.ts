import * as tf from '@tensorflow/tfjs';
import { assertChannelsLast, axisPhases, inputGradByPhases, phaseFilter, type ConvAttrs } from './conv_util.js';
import { withScope } from './wasm_kernel_scope.js';

type Shape4 = [number, number, number, number];

/**
 * dx of a conv2d, which is also the forward pass of tf.conv2dTranspose (the U-Net up blocks), on XNNPACK.
 *
 * The wasm backend's own kernel is a scalar loop (~2 GFLOP/s). Here dx is a stride-1 conv of dy with the
 * 180°-rotated, in/out-swapped filter; for stride s it is split into s x s output phases, each a stride-1
 * conv with the sub-filter of the taps that reach it, scattered into dx. Padding of every kind, odd sizes and
 * filters smaller than the stride (phases with no taps are zero) follow from `axisPhases`.
 */
function conv2DBackpropInput({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { inputShape, strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  assertChannelsLast(tf.Conv2DBackpropInput, dataFormat);
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const [, h, w] = inputShape;
  const phasesH = axisPhases(h, info.filterHeight, info.strideHeight, info.padInfo.top, info.outHeight);
  const phasesW = axisPhases(w, info.filterWidth, info.strideWidth, info.padInfo.left, info.outWidth);
  return withScope(backend, (scope) =>
    inputGradByPhases(scope, 'Conv2D', dy, (th, tw) => phaseFilter(scope, filter, th, tw), inputShape, phasesH, phasesW),
  );
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as tf.KernelFunc,
};
