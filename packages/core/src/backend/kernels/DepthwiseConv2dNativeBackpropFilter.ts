import * as tf from '@tensorflow/tfjs';
import { assertChannelsLast, assertNoDilation, convSignedPad, type ConvAttrs } from './conv_util.js';
import { view, withScope } from './wasm_kernel_scope.js';

type Shape4 = [number, number, number, number];

/**
 * dW of a depthwise conv2d on XNNPACK (the wasm backend has no kernel for it).
 *
 * dW[kh,kw,ci,m] = sum over (b,oh,ow) of x[b, oh*sh+kh-pt, ow*sw+kw-pl, ci] * dy[b,oh,ow,ci*m+mi]. With the batch
 * folded into the channels, that is one depthwise convolution of x as [1, h, w, b*ci] with dy as a [ho, wo, b*ci, m]
 * filter dilated by the stride, followed by a sum over b. It runs at ~1 GFLOP/s (XNNPACK has no fast path for
 * such large depthwise kernels), 5x the forward's time, but the op is cheap to begin with, and a JS loop over
 * the taps measured 1.4-1.6x slower still.
 */
function depthwiseConv2dNativeBackpropFilter({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { filterShape, strides, pad, dataFormat, dimRoundingMode, dilations } = attrs as unknown as ConvAttrs & { filterShape: Shape4 };
  assertChannelsLast(tf.DepthwiseConv2dNativeBackpropFilter, dataFormat);
  assertNoDilation(tf.DepthwiseConv2dNativeBackpropFilter, dilations);
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, true, 'channelsLast');
  const [b, h, w, ci] = x.shape as Shape4;
  const [kh, kw, , mult] = filterShape;
  const { strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  return withScope(backend, (scope) => {
    const xt = scope.run(tf.Transpose, { x }, { perm: [1, 2, 0, 3] });
    const dyt = scope.run(tf.Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
    const perBatch = convSignedPad(
      scope,
      'DepthwiseConv2dNative',
      view(xt, [1, h, w, b * ci]),
      view(dyt, [ho, wo, b * ci, mult]),
      [pt, kh + sh * (ho - 1) - h - pt],
      [pl, kw + sw * (wo - 1) - w - pl],
      [sh, sw],
    );
    const out = scope.zeros(filterShape);
    if (perBatch === null) return out;
    // perBatch is [1, kh, kw, (b, ci, m)]: sum over b.
    const heap = scope.f32();
    const taps = kh * kw;
    const c = ci * mult;
    const src = scope.offset(perBatch);
    const dst = scope.offset(out);
    for (let t = 0; t < taps; t++) {
      for (let n = 0; n < b; n++) {
        const s = src + (t * b + n) * c;
        const d = dst + t * c;
        for (let k = 0; k < c; k++) heap[d + k] += heap[s + k];
      }
    }
    return out;
  });
}

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter as tf.KernelFunc,
};
