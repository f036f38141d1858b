import * as tf from '@tensorflow/tfjs';

/**
 * Kernels the wasm backend lacks, or runs on a slow generic path, that training needs so that `tf.grad`
 * works through every op of AEI-Net, HEAR-Net, the discriminator and the frozen identity networks.
 * Each lives in kernels/<KernelName>.ts.
 */
const WASM_TRAINING_KERNELS: tf.KernelConfig[] = [];

let registered = false;

/** Registers (or replaces) the wasm training kernels. Idempotent; safe to call before or after `setBackend('wasm')`. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) !== undefined) {
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
  registered = true;
}
