import * as tf from '@tensorflow/tfjs';
import { im2colRows } from './conv_gemm.js';
import { planForward } from './Conv2D.js';
import { stockSetup, wasmKernel } from './stock_kernels.js';
import { view, withScope } from './wasm_kernel_scope.js';

/**
 * Fused conv2d (+ bias + activation: what tf.layers.conv2d runs), with the same split as Conv2D: weight-heavy
 * layers as one im2col GEMM whose bias and activation XNNPACK fuses (_FusedMatMul), the rest on the stock kernel.
 */
function fusedConv2D(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const attrs = args.attrs as Record<string, unknown>;
  const { gemm: info, stockAttrs } = planForward(x!, filter!, attrs as never);
  const co = filter!.shape[3]!;
  const channelwise = (t: tf.TensorInfo | undefined): boolean => t == null || tf.util.sizeFromShape(t.shape) === co;
  if (info === null || !channelwise(bias) || !channelwise(preluActivationWeights)) {
    return wasmKernel(tf.FusedConv2D).kernelFunc({ ...args, attrs: stockAttrs as tf.NamedAttrMap });
  }
  return withScope(args.backend, (scope) => {
    const cols = im2colRows(scope, x!, info);
    const k = info.filterHeight * info.filterWidth * info.inChannels;
    const p = info.batchSize * info.outHeight * info.outWidth;
    const inputs: Record<string, tf.TensorInfo> = { a: view(cols, [1, p, k]), b: view(filter!, [1, k, co]) };
    if (bias != null) inputs.bias = view(bias, [co]);
    if (preluActivationWeights != null) inputs.preluActivationWeights = view(preluActivationWeights, [co]);
    const y = scope.run(tf._FusedMatMul, inputs, {
      transposeA: false,
      transposeB: false,
      activation: attrs.activation ?? 'linear',
      leakyreluAlpha: attrs.leakyreluAlpha,
    });
    return view(y, info.outShape);
  });
}

export const fusedConv2DConfig: tf.KernelConfig = {
  kernelName: tf.FusedConv2D,
  backendName: 'wasm',
  kernelFunc: fusedConv2D as tf.KernelFunc,
  setupFunc: stockSetup(tf.FusedConv2D),
};
