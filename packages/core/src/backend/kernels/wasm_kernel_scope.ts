import * as tf from '@tensorflow/tfjs';
import { wasmKernel } from './stock_kernels.js';

/**
 * The parts of tfjs-backend-wasm's `BackendWasm` that the training kernels touch. Typed structurally so that the
 * kernels need neither the emscripten typings nor a runtime import of the wasm package.
 */
export interface WasmBackend {
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  wasm: { HEAPU8: Uint8Array };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

type Attrs = Record<string, unknown>;

/**
 * Bookkeeping for one kernel invocation. Kernels run below the engine, so nothing they allocate is tracked by
 * tf.tidy: every intermediate goes through a scope, and `finish` frees all of them except the returned output.
 */
export class KernelScope {
  private readonly owned: tf.TensorInfo[] = [];

  constructor(readonly backend: WasmBackend) {}

  /**
   * Runs one of the wasm backend's own kernels (e.g. XNNPACK's Conv2D, never a replacement registered here)
   * directly, bypassing the engine; its output is owned by the scope.
   */
  run(kernelName: string, inputs: Record<string, tf.TensorInfo>, attrs: Attrs = {}): tf.TensorInfo {
    const kernel = wasmKernel(kernelName);
    const out = kernel.kernelFunc({ inputs, backend: this.backend as never, attrs: attrs as tf.NamedAttrMap });
    if (Array.isArray(out)) throw new Error(`Kernel '${kernelName}' returned several outputs where one was expected.`);
    this.owned.push(out);
    return out;
  }

  /** Uninitialised float32 memory on the wasm heap, owned by the scope. */
  alloc(shape: number[]): tf.TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    this.owned.push(out);
    return out;
  }

  /** Zero-filled float32 memory, owned by the scope. */
  zeros(shape: number[]): tf.TensorInfo {
    const out = this.alloc(shape);
    this.f32().fill(0, this.offset(out), this.offset(out) + tf.util.sizeFromShape(shape));
    return out;
  }

  /** Frees one intermediate early (large buffers), instead of at `finish`. */
  free(info: tf.TensorInfo): void {
    const i = this.owned.indexOf(info);
    if (i < 0) throw new Error('KernelScope.free: this tensor is not owned by the scope.');
    this.owned.splice(i, 1);
    this.backend.disposeData(info.dataId);
  }

  /**
   * The whole wasm heap as float32. Allocation can grow (and so replace) the heap buffer, so fetch this again
   * after every `alloc`/`run`.
   */
  f32(): Float32Array {
    const u8 = this.backend.wasm.HEAPU8;
    return new Float32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
  }

  /** Index of a tensor's first element in `f32()`. */
  offset(info: tf.TensorInfo): number {
    const data = this.backend.dataIdMap.get(info.dataId);
    if (data === undefined) throw new Error('KernelScope.offset: tensor data is not on the wasm backend.');
    return data.memoryOffset >>> 2;
  }

  /** Frees every intermediate and hands `output` (owned by the scope, or a view of an owned tensor) to the engine. */
  finish(output: tf.TensorInfo): tf.TensorInfo {
    for (const info of this.owned) {
      if (info.dataId !== output.dataId) this.backend.disposeData(info.dataId);
    }
    this.owned.length = 0;
    return output;
  }

  /** Frees every intermediate; for error paths. */
  disposeAll(): void {
    for (const info of this.owned) this.backend.disposeData(info.dataId);
    this.owned.length = 0;
  }
}

/** A reshaped view sharing the data of `info` (no copy, no reference taken: do not free it separately). */
export function view(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** Runs `body` in a fresh scope; intermediates are freed whether it returns or throws. */
export function withScope(backend: object, body: (scope: KernelScope) => tf.TensorInfo): tf.TensorInfo {
  const scope = new KernelScope(backend as WasmBackend);
  try {
    return scope.finish(body(scope));
  } catch (e) {
    scope.disposeAll();
    throw e;
  }
}
