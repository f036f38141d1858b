import * as tf from '@tensorflow/tfjs';
import { conv2DConfig } from './kernels/Conv2D.js';
import { cpuConv2DBackpropFilterConfig, rememberStockCpuConv2DBackpropFilter } from './kernels/cpu/Conv2DBackpropFilter.js';
import { conv2DBackpropFilterConfig } from './kernels/Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './kernels/Conv2DBackpropInput.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './kernels/DepthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './kernels/DepthwiseConv2dNativeBackpropInput.js';
import { fusedConv2DConfig } from './kernels/FusedConv2D.js';
import { identityConfig } from './kernels/Identity.js';
import { maxPoolGradConfig } from './kernels/MaxPoolGrad.js';
import { rememberStockKernel } from './kernels/stock_kernels.js';

/**
 * Kernels that training needs on the wasm backend, which lacks them (the conv filter gradients, both depthwise
 * gradients), runs them on a slow scalar path (Conv2DBackpropInput, ~2 GFLOP/s, also the forward pass of
 * conv2dTranspose), or computes them wrongly (MaxPoolGrad), so that `tf.grad` works, and runs at forward-conv
 * speed, through every op of AEI-Net, HEAR-Net, the discriminator and the frozen identity networks. Conv2D and
 * FusedConv2D are replaced too, for weight-heavy layers only (the generator's 1024-channel blocks), where packing
 * each step's new weights for XNNPACK's conv costs more than the convolution; other shapes go to the stock kernels.
 * Identity is replaced by one that shares its input's data instead of copying it (the engine clones every tensor
 * it saves for the backward pass). Each lives in kernels/<KernelName>.ts and is built on the backend's XNNPACK convolution and GEMM.
 */
export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2DConfig,
  fusedConv2DConfig,
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  maxPoolGradConfig,
  identityConfig,
];

/**
 * Registers the wasm training kernels, replacing the backend's own where it has one. Idempotent, and safe before
 * or after `setBackend('wasm')`; call it again if @tensorflow/tfjs-backend-wasm is first imported afterwards, as its
 * import re-registers the stock kernels.
 */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    rememberStockKernel(config.kernelName, config);
    if (current !== undefined) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
}

/**
 * Kernels this project registers on the cpu backend. They are not corrections: the cpu backend is the correctness
 * reference, and its gradients are right (issue 11 was float32 rounding at ReLU kinks: gradient_f64.test.ts).
 * Conv2DBackpropFilter is replaced by one that computes bit for bit the same values, ~40x faster. The stock one took
 * ~90% of a cpu gradient through these networks.
 */
export const CPU_KERNELS: readonly tf.KernelConfig[] = [cpuConv2DBackpropFilterConfig];

/** Registers {@link CPU_KERNELS}, keeping the stock ones they replace. Idempotent. */
export function registerCpuKernels(): void {
  for (const config of CPU_KERNELS) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (config === cpuConv2DBackpropFilterConfig) rememberStockCpuConv2DBackpropFilter(current);
    if (current !== undefined) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
  }
}
