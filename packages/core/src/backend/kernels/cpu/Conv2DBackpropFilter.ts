import * as tf from '@tensorflow/tfjs';

type Attrs = { strides: number | [number, number]; pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
type CpuBackend = { data: { get(id: object): { values: Float32Array } }; makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo };

let stock: tf.KernelConfig | undefined;

/**
 * The cpu backend's Conv2DBackpropFilter, computed exactly as tfjs-backend-cpu 4.22 computes it, and fast.
 * - The stock kernel reads every element through TensorBuffer.get. It took 109 of the 120 s of issue 11's objective
 *   (tiny AEI-Net + D at 32², on a loaded machine), e.g. 1.9 s for one 4×4 conv of D, where this one takes 51 ms.
 * - This one reads the arrays directly. Per filter element it keeps the stock order of summation: a float64 sum over
 *   batch, output row and output column, rounded to float32 once.
 * - Its output is bit for bit the stock kernel's (Conv2DBackpropFilter.test.ts), so the reference does not change.
 * - NCHW goes to the stock kernel.
 */
function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as Attrs;
  const format = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat);
  if (format !== 'channelsLast') return stock!.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, format);
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, inChannels: ci, outChannels: co, batchSize, inHeight, inWidth, outHeight, outWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const backend = args.backend as CpuBackend;
  const xv = backend.data.get(x.dataId).values;
  const dyv = backend.data.get(dy.dataId).values;
  const dW = new Float32Array(fh * fw * ci * co);
  const sums = new Float64Array(co);
  for (let wR = 0; wR < fh; ++wR) {
    const yRMin = Math.max(0, Math.ceil((top - wR) / sh));
    const yRMax = Math.min(outHeight, (inHeight + top - wR) / sh);
    for (let wC = 0; wC < fw; ++wC) {
      const yCMin = Math.max(0, Math.ceil((left - wC) / sw));
      const yCMax = Math.min(outWidth, (inWidth + left - wC) / sw);
      for (let d1 = 0; d1 < ci; ++d1) {
        sums.fill(0);
        for (let b = 0; b < batchSize; ++b) {
          for (let yR = yRMin; yR < yRMax; ++yR) {
            const xR = wR + yR * sh - top;
            for (let yC = yCMin; yC < yCMax; ++yC) {
              const xC = wC + yC * sw - left;
              const xVal = xv[((b * inHeight + xR) * inWidth + xC) * ci + d1]!;
              const dyBase = ((b * outHeight + yR) * outWidth + yC) * co;
              for (let d2 = 0; d2 < co; ++d2) sums[d2] += xVal * dyv[dyBase + d2]!;
            }
          }
        }
        const base = ((wR * fw + wC) * ci + d1) * co;
        for (let d2 = 0; d2 < co; ++d2) dW[base + d2] = sums[d2]!;
      }
    }
  }
  return backend.makeTensorInfo(info.filterShape, 'float32', dW);
}

export const cpuConv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'cpu',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};

/** Keeps the kernel tfjs-backend-cpu registered, for NCHW and for the test that ours equals it. */
export function rememberStockCpuConv2DBackpropFilter(current: tf.KernelConfig | undefined): void {
  if (current && current.kernelFunc !== cpuConv2DBackpropFilterConfig.kernelFunc) stock = current;
}

export function stockCpuConv2DBackpropFilter(): tf.KernelConfig {
  if (!stock) throw new Error("tfjs-backend-cpu's own Conv2DBackpropFilter was not recorded: call registerCpuKernels() first");
  return stock;
}
