import * as tf from '@tensorflow/tfjs';
import { wasmKernel } from './stock_kernels.js';

/**
 * Identity without a copy, replacing the wasm backend's, which copies the whole buffer.
 *
 * The engine runs Identity for every tensor it saves for the backward pass (Engine.clone in
 * saveTensorsForBackwardMode), so on wasm each recorded op paid a memcpy of its inputs and outputs: 16% of an
 * aei-tiny training step on one thread, measured with --cpu-prof, more than any of the project's own kernels.
 * Tensors are immutable and the backend counts references per data id (its Reshape shares data this way), so the
 * output can share the input's data, as the cpu backend's Identity does. String tensors, whose data live in JS,
 * keep the stock kernel.
 */
function identity({ inputs, backend }: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { x } = inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string') return wasmKernel(tf.Identity).kernelFunc({ inputs, backend, attrs: {} }) as tf.TensorInfo;
  (backend as unknown as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identity as tf.KernelFunc,
};
