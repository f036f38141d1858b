import * as tf from '@tensorflow/tfjs';
import { describe } from 'vitest';

/**
 * Why the webgpu audits cannot run here (no adapter, or the optional packages missing), or undefined when they can.
 * vitest.setup.ts sets it in the `webgpu` project.
 */
export const webgpuUnavailable: string | undefined =
  process.env.FACESHIFTER_BACKEND === 'webgpu' ? process.env.FACESHIFTER_WEBGPU_UNAVAILABLE : 'not the webgpu test project';

/** A describe block that runs on webgpu, or is skipped with the reason in its name (and once on stderr). */
export function describeOnWebGPU(name: string, body: () => void): void {
  if (webgpuUnavailable === undefined) {
    describe(name, body);
    return;
  }
  process.stderr.write(`[faceshifter] webgpu tests skipped: ${webgpuUnavailable}\n`);
  describe.skip(`${name} (skipped: ${webgpuUnavailable})`, body);
}

/** Relative L2 error ||a − r|| / ||r|| (floored at 1e-30, so an all-zero reference demands an all-zero result). */
export function relativeL2(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (actual.length !== reference.length) return Infinity;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = actual[i]! - reference[i]!;
    diff += d * d;
    norm += reference[i]! * reference[i]!;
  }
  const e = Math.sqrt(diff / Math.max(norm, 1e-30));
  return Number.isNaN(e) ? Infinity : e;
}

/** Engine tensors and webgpu buffers in use (the backend's own count of data ids, and its bytes on the GPU). */
export function webgpuMemory(): { tensors: number; dataIds: number; gpuBytes: number } {
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  return { tensors: m.numTensors, dataIds: tf.engine().backend.numDataIds(), gpuBytes: m.numBytesInGPU ?? 0 };
}

/** Reads tensors asynchronously (webgpu in Node cannot read synchronously) and disposes them. */
export async function readAndDispose(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  const values = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(tensors);
  return values;
}
