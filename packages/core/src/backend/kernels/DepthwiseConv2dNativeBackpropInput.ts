import * as tf from '@tensorflow/tfjs';
import { assertChannelsLast, assertNoDilation, axisPhases, inputGradByPhases, type ConvAttrs } from './conv_util.js';
import { withScope, type KernelScope } from './wasm_kernel_scope.js';

type Shape4 = [number, number, number, number];

/**
 * dx of a depthwise conv2d on XNNPACK (the wasm backend has no kernel for it). The frozen MobileNet identity
 * network is differentiated with respect to its input, so this runs on every training step that uses it.
 *
 * Same phase decomposition as Conv2DBackpropInput, with depthwise phase convolutions. With a channel multiplier
 * m > 1, dy's ci*m channels are convolved one by one and each group of m is summed into its input channel.
 */
function depthwiseConv2dNativeBackpropInput({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { inputShape, strides, pad, dataFormat, dimRoundingMode, dilations } = attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  assertChannelsLast(tf.DepthwiseConv2dNativeBackpropInput, dataFormat);
  assertNoDilation(tf.DepthwiseConv2dNativeBackpropInput, dilations);
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, true, 'channelsLast');
  const [b, h, w, ci] = inputShape;
  const mult = (filter.shape as Shape4)[3];
  const phasesH = axisPhases(h, info.filterHeight, info.strideHeight, info.padInfo.top, info.outHeight);
  const phasesW = axisPhases(w, info.filterWidth, info.strideWidth, info.padInfo.left, info.outWidth);
  return withScope(backend, (scope) => {
    const perChannel = inputGradByPhases(
      scope,
      'DepthwiseConv2dNative',
      dy,
      (th, tw) => depthwisePhaseFilter(scope, filter, th, tw),
      [b, h, w, ci * mult],
      phasesH,
      phasesW,
    );
    return mult === 1 ? perChannel : sumGroups(scope, perChannel, b * h * w * ci, mult);
  });
}

/** Taps `tapsH` x `tapsW` of the depthwise filter [kh, kw, ci, m], as a multiplier-1 filter [th, tw, ci*m, 1]. */
function depthwisePhaseFilter(scope: KernelScope, filter: tf.TensorInfo, tapsH: number[], tapsW: number[]): tf.TensorInfo {
  const [, kw, ci, mult] = filter.shape as Shape4;
  const c = ci * mult;
  const out = scope.alloc([tapsH.length, tapsW.length, c, 1]);
  const heap = scope.f32();
  const src = scope.offset(filter);
  let d = scope.offset(out);
  for (const th of tapsH) {
    for (const tw of tapsW) {
      const s = src + (th * kw + tw) * c;
      heap.copyWithin(d, s, s + c);
      d += c;
    }
  }
  return out;
}

/** out[i] = sum over j < m of x[i*m + j]. */
function sumGroups(scope: KernelScope, x: tf.TensorInfo, n: number, m: number): tf.TensorInfo {
  const [b, h, w, cm] = x.shape as Shape4;
  const out = scope.alloc([b, h, w, cm / m]);
  const heap = scope.f32();
  const s = scope.offset(x);
  const o = scope.offset(out);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let j = 0, k = s + i * m; j < m; j++, k++) acc += heap[k];
    heap[o + i] = acc;
  }
  return out;
}

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput as tf.KernelFunc,
};
