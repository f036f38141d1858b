import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, selectBackend } from './select_backend.js';
import { probeWebGPUAdapter, type WebGPUAdapter } from './webgpu.js';

/** The WebGPU adapter of this machine, or null (then the webgpu cases check the error instead). */
async function adapterOrNull(): Promise<WebGPUAdapter | null> {
  try {
    return await probeWebGPUAdapter();
  } catch {
    return null;
  }
}

describe('selectBackend', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('selects cpu and wasm by name and logs exactly one line naming the backend', async () => {
    for (const name of ['cpu', 'wasm'] as const) {
      const lines: string[] = [];
      expect(await selectBackend(name, { log: (l) => lines.push(l) })).toBe(name);
      expect(tf.getBackend()).toBe(name);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`backend: ${name}`);
    }
  });

  it('auto falls back past the native backend when it is not installed, and takes webgpu only on a hardware adapter', async () => {
    const lines: string[] = [];
    const chosen = await selectBackend('auto', { log: (l) => lines.push(l) });
    const adapter = await adapterOrNull();
    expect(lines).toHaveLength(1);
    if (chosen === 'tensorflow') return;
    expect(chosen).toBe(adapter !== null && !adapter.emulated ? 'webgpu' : 'wasm');
    if (adapter?.emulated) expect(lines[0]).toMatch(/skipped .*webgpu \(only an emulated adapter was found: /);
  });

  it('selects webgpu by name, naming the adapter and whether it is emulated or a fallback, or says what is missing', async () => {
    const adapter = await adapterOrNull();
    if (adapter === null) {
      await expect(selectBackend('webgpu', { log: () => {} })).rejects.toThrow(/Backend 'webgpu' is not available .*Vulkan, Metal or D3D12/);
      return;
    }
    const lines: string[] = [];
    expect(await selectBackend('webgpu', { log: (l) => lines.push(l) })).toBe('webgpu');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`backend: webgpu (adapter ${adapter.vendor}`);
    expect(lines[0]).toMatch(adapter.emulated ? /emulated on the CPU.*fallback adapter: (yes|no)/ : /hardware; fallback adapter: no/);
  });

  it('switches between backends repeatedly in one process, carrying tensors across', async () => {
    const haveWebgpu = (await adapterOrNull()) !== null;
    const order = haveWebgpu ? (['cpu', 'webgpu', 'wasm', 'webgpu', 'cpu', 'wasm', 'webgpu'] as const) : (['cpu', 'wasm', 'cpu', 'wasm'] as const);
    const x = tf.tensor2d([[1, -2], [3, 0.5]]);
    const before = tf.memory().numTensors;
    for (const name of order) {
      expect(await selectBackend(name, { log: () => {} })).toBe(name);
      const y = tf.tidy(() => tf.matMul(tf.relu(x), tf.square(x)));
      expect(Array.from(await y.data())).toEqual([1, 4, 7.5, 12.125]);
      y.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    x.dispose();
  });

  it('names the install command when a requested backend cannot load', async () => {
    let nativeInstalled = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      try {
        await import('@tensorflow/tfjs-node-gpu' as string);
      } catch {
        nativeInstalled = false;
      }
    }
    if (nativeInstalled) return; // on a machine with tfjs-node this path cannot be reached
    const attempt = selectBackend('tensorflow', { log: () => {} });
    await expect(attempt).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(attempt).rejects.toThrow(/yarn add @tensorflow\/tfjs-node-gpu/);
  });

  it('rejects an unknown backend name with the valid choices', async () => {
    await expect(selectBackend('metal' as never)).rejects.toThrow(/Unknown backend 'metal'.*auto, tensorflow, webgpu, webgl, wasm, cpu/);
  });

  it('names why webgl, a browser backend, is unavailable in Node', async () => {
    await expect(selectBackend('webgl')).rejects.toThrow(/Backend 'webgl' is not available \(WebGL exists only in browsers\)/);
  });
});
