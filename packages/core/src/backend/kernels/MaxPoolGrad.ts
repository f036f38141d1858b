import * as tf from '@tensorflow/tfjs';
import { withScope } from './wasm_kernel_scope.js';

type Shape4 = [number, number, number, number];

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * dx of maxPool, replacing the wasm backend's kernel, which is wrong: it starts each window's running maximum at
 * FLT_MIN (the smallest positive float) instead of -inf, so a window of all-negative values routes its gradient
 * to element 0 of the batch. Here, as on the cpu backend and in TensorFlow, the first maximum of each window
 * receives dy.
 */
function maxPoolGrad({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as Shape4, filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  return withScope(backend, (scope) => {
    const dx = scope.zeros(input.shape);
    const heap = scope.f32();
    const xBase = scope.offset(input);
    const dyBase = scope.offset(dy);
    const dxBase = scope.offset(dx);
    const best = new Float32Array(c);
    const argmax = new Int32Array(c);
    for (let n = 0; n < b; n++) {
      for (let i = 0; i < ho; i++) {
        const r0 = Math.max(0, i * sh - pt);
        const r1 = Math.min(h, i * sh - pt + fh);
        for (let j = 0; j < wo; j++) {
          const c0 = Math.max(0, j * sw - pl);
          const c1 = Math.min(w, j * sw - pl + fw);
          best.fill(-Infinity);
          argmax.fill(-1);
          for (let r = r0; r < r1; r++) {
            for (let col = c0; col < c1; col++) {
              const p = ((n * h + r) * w + col) * c;
              for (let k = 0; k < c; k++) {
                const v = heap[xBase + p + k];
                if (v > best[k] || argmax[k] === -1) {
                  best[k] = v;
                  argmax[k] = p + k;
                }
              }
            }
          }
          const g = dyBase + ((n * ho + i) * wo + j) * c;
          for (let k = 0; k < c; k++) {
            const a = argmax[k];
            if (a >= 0) heap[dxBase + a] += heap[g + k];
          }
        }
      }
    }
    return dx;
  });
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as tf.KernelFunc,
};
