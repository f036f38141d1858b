import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './register_all_kernels.js';

describe('registerWasmTrainingKernels', () => {
  it('installs every training kernel on wasm, idempotently, and re-installs after the stock ones come back', () => {
    expect(WASM_TRAINING_KERNELS.map((k) => k.kernelName).sort()).toEqual([
      'Conv2D',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'FusedConv2D',
      'Identity',
      'MaxPoolGrad',
    ]);
    registerWasmTrainingKernels();
    registerWasmTrainingKernels();
    for (const k of WASM_TRAINING_KERNELS) {
      expect(k.backendName).toBe('wasm');
      expect(tf.getKernel(k.kernelName, 'wasm')?.kernelFunc).toBe(k.kernelFunc);
    }
    // What importing @tensorflow/tfjs-backend-wasm after registration does: the stock kernel replaces ours.
    const stock: tf.KernelConfig = { kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: () => ({}) as tf.TensorInfo };
    tf.unregisterKernel('MaxPoolGrad', 'wasm');
    tf.registerKernel(stock);
    registerWasmTrainingKernels();
    expect(tf.getKernel('MaxPoolGrad', 'wasm')?.kernelFunc).toBe(WASM_TRAINING_KERNELS.find((k) => k.kernelName === 'MaxPoolGrad')!.kernelFunc);
  });
});
