import * as tf from '@tensorflow/tfjs';

type Shape4 = [number, number, number, number];

interface ConvBackpropFilterAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: Shape4;
}

interface WebGPUBackendLike {
  disposeData(dataId: object): void;
}

/** The webgpu backend's own kernel for `name` at the time ours were registered (what a replacement falls back to). */
const stock = new Map<string, tf.KernelConfig>();

function webgpuKernel(name: string): tf.KernelFunc {
  const k = stock.get(name) ?? tf.getKernel(name, 'webgpu');
  if (k === undefined) throw new Error(`the webgpu backend has no '${name}' kernel`);
  return k.kernelFunc;
}

/**
 * dW of a conv2d on webgpu, as one matrix product per filter tap: dW[kh,kw] = X_{kh,kw}ᵀ · dy, where X_{kh,kw} is the
 * [B·Ho·Wo, C_in] slice of the padded x that tap sees (strided by the conv's stride) and dy is [B·Ho·Wo, C_out].
 *
 * tfjs-backend-webgpu 4.22's own Conv2DBackpropFilter gives each thread one filter weight and loops serially over
 * all of B·Ho·Wo: few threads with long loops. On the 3×3 64→64 [4,64,64,64] bench case on SwiftShader it took
 * 160 s where the forward conv took 31 s. The per-tap products run on the backend's matmul kernels, which split
 * the long B·Ho·Wo reduction across threads: about 14 s of CPU on the same case. (The other formulation, a conv of
 * x transposed to [C_in, H, W, B] with dy as a stride-dilated Ho × Wo filter, took about 42 s.) The gain is in long
 * reductions (that case, the 256² preset). A whole aei-tiny step on SwiftShader is no faster, and may be slower
 * (stock 129 s wall / 257 s CPU, this 142 s / 280 s, on a lightly loaded 2-core machine): its reductions are short,
 * and each tap is a dispatch. The slices are transient copies of
 * x's size each.
 */
function conv2DBackpropFilter(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as ConvBackpropFilterAttrs;
  if (dataFormat === 'NCHW') return webgpuKernel(tf.Conv2DBackpropFilter)(args) as tf.TensorInfo;
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const [kh, kw, ci, co] = filterShape;
  const { top, left } = info.padInfo;
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const [b, ho, wo] = [info.batchSize, info.outHeight, info.outWidth];
  const n = b * ho * wo;
  // Padded so that every tap's window lies inside; rows past the last window are never read.
  const bottom = Math.max(0, kh + (ho - 1) * sh - info.inHeight - top);
  const right = Math.max(0, kw + (wo - 1) * sw - info.inWidth - left);
  const gpu = backend as unknown as WebGPUBackendLike;
  const temporaries: tf.TensorInfo[] = [];
  const run = (name: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs: object, keep = false): tf.TensorInfo => {
    const out = webgpuKernel(name)({ inputs: kernelInputs, backend, attrs: kernelAttrs as tf.NamedAttrMap }) as tf.TensorInfo;
    if (!keep) temporaries.push(out);
    return out;
  };
  try {
    const padded = top || bottom || left || right ? run(tf.PadV2, { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 }) : x;
    const dy2 = run(tf.Reshape, { x: dy }, { shape: [1, n, co] });
    const taps: tf.TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const end = [b, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, ci];
        const slice = sh === 1 && sw === 1
          ? run(tf.Slice, { x: padded }, { begin: [0, i, j, 0], size: [b, ho, wo, ci] })
          : run(tf.StridedSlice, { x: padded }, { begin: [0, i, j, 0], end, strides: [1, sh, sw, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 });
        const cols = run(tf.Reshape, { x: slice }, { shape: [1, n, ci] });
        taps.push(run(tf.BatchMatMul, { a: cols, b: dy2 }, { transposeA: true, transposeB: false }));
      }
    }
    const stacked = taps.length === 1 ? taps[0]! : run(tf.Concat, taps as unknown as tf.NamedTensorInfoMap, { axis: 0 });
    return run(tf.Reshape, { x: stacked }, { shape: [kh, kw, ci, co] }, true);
  } finally {
    for (const t of temporaries) gpu.disposeData(t.dataId);
  }
}

export const WEBGPU_KERNELS: readonly tf.KernelConfig[] = [{ kernelName: tf.Conv2DBackpropFilter, backendName: 'webgpu', kernelFunc: conv2DBackpropFilter as tf.KernelFunc }];

/**
 * Replaces webgpu kernels that are pathologically slow for training (see each). Idempotent; call after
 * @tensorflow/tfjs-backend-webgpu is imported (its import registers the stock kernels).
 */
export function registerWebGPUKernels(): void {
  for (const config of WEBGPU_KERNELS) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) {
      stock.set(config.kernelName, current);
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
}
