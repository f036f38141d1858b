import * as tf from '@tensorflow/tfjs';

/**
 * The wasm backend's own kernels that the training kernels replace (Conv2D, FusedConv2D, Conv2DBackpropInput,
 * MaxPoolGrad), kept when they are unregistered: the replacements fall back to them outside the shapes they speed
 * up, and must run their setup (the emscripten bindings) when the backend initialises.
 */
const stock = new Map<string, tf.KernelConfig>();
const replacements = new Set<tf.KernelFunc>();

/** Records the kernel currently registered under `kernelName` for wasm as the stock one, unless it is `ours`. */
export function rememberStockKernel(kernelName: string, ours: tf.KernelConfig): void {
  replacements.add(ours.kernelFunc);
  const current = tf.getKernel(kernelName, 'wasm');
  if (current !== undefined && !replacements.has(current.kernelFunc)) stock.set(kernelName, current);
}

/** The wasm backend's own kernel for `kernelName`: the stock one if it was replaced, else whatever is registered. */
export function wasmKernel(kernelName: string): tf.KernelConfig {
  const kernel = stock.get(kernelName) ?? tf.getKernel(kernelName, 'wasm');
  if (kernel === undefined || replacements.has(kernel.kernelFunc)) {
    throw new Error(
      `The wasm backend's own '${kernelName}' kernel is missing: import '@tensorflow/tfjs-backend-wasm' before calling registerWasmTrainingKernels().`,
    );
  }
  return kernel;
}

/** A replacement's setupFunc: the stock kernel's setup, which binds its wasm function. */
export function stockSetup(kernelName: string): NonNullable<tf.KernelConfig['setupFunc']> {
  return (backend) => stock.get(kernelName)?.setupFunc?.(backend);
}
