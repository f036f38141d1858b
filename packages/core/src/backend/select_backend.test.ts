import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, selectBackend } from './select_backend.js';

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

  it('auto falls back past the native backend when it is not installed', async () => {
    const lines: string[] = [];
    const chosen = await selectBackend('auto', { log: (l) => lines.push(l) });
    expect(['tensorflow', 'wasm']).toContain(chosen);
    expect(lines).toHaveLength(1);
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
    await expect(selectBackend('webgpu' as never)).rejects.toThrow(/Unknown backend 'webgpu'.*auto, tensorflow, wasm, cpu/);
  });
});
