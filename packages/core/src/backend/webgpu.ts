import * as tf from '@tensorflow/tfjs';
import { firstLine, isNode, nodeProcess } from '../platform.js';
import { registerWasmTrainingKernels } from './register_all_kernels.js';
import { registerWebGPUKernels } from './webgpu_kernels.js';

/** What a WebGPU adapter says about itself, and whether it is a real GPU. */
export interface WebGPUAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter reports itself as a fallback (software) adapter. */
  isFallbackAdapter: boolean;
  /**
   * A CPU emulation of a GPU: a fallback adapter, or one of the software rasterisers (SwiftShader, llvmpipe,
   * lavapipe, WARP) whatever it reports. Correct, never fast: `auto` never picks one, and speed figures measured on
   * one are marked as emulated.
   */
  emulated: boolean;
  /** How it is reached: Dawn's Node binding (npm `webgpu`) or the browser's `navigator.gpu`. */
  route: 'dawn-node' | 'navigator.gpu';
}

// Structural types for the few WebGPU objects used here, so that this file needs no DOM or @webgpu/types globals.
interface GPUAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GPUAdapterLike {
  info?: GPUAdapterInfoLike;
  isFallbackAdapter?: boolean;
  requestAdapterInfo?: () => Promise<GPUAdapterInfoLike>;
}
interface GPULike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GPUAdapterLike | null>;
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render|\bwarp\b/i;


/** The environment's WebGPU entry point; null where there is none. */
function existingGpu(): GPULike | null {
  const nav = (globalThis as { navigator?: { gpu?: GPULike } }).navigator;
  return nav?.gpu ?? null;
}

let dawnSetup: Promise<GPULike> | null = null;

/**
 * In Node: loads Dawn (npm `webgpu`), installs its WebGPU globals (GPUBufferUsage and the rest, which
 * tfjs-backend-webgpu reads) and `navigator.gpu`. Once per process: a second Dawn instance aborts the process.
 */
function setupDawn(): Promise<GPULike> {
  dawnSetup ??= (async () => {
    // Dawn's Vulkan loader warns on every start when this is unset; any writable folder will do.
    const env = nodeProcess()!.env;
    env.XDG_RUNTIME_DIR ??= env.TMPDIR ?? '/tmp';
    // A variable specifier keeps bundlers of browser builds from resolving the Node-only binding.
    const specifier = 'webgpu';
    const dawn = (await import(/* @vite-ignore */ specifier)) as { create(flags: string[]): GPULike; globals: object };
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    const nav = (globalThis as { navigator?: object }).navigator;
    if (nav === undefined) {
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    } else {
      Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
    }
    return gpu;
  })();
  return dawnSetup;
}

async function gpuEntryPoint(): Promise<{ gpu: GPULike; route: WebGPUAdapter['route'] }> {
  if (dawnSetup !== null) return { gpu: await dawnSetup, route: 'dawn-node' };
  const gpu = existingGpu();
  if (gpu !== null) return { gpu, route: 'navigator.gpu' };
  if (!isNode()) throw new Error('this browser has no navigator.gpu (WebGPU is off or unsupported)');
  try {
    return { gpu: await setupDawn(), route: 'dawn-node' };
  } catch (e) {
    dawnSetup = null;
    throw new Error(`the Dawn binding (npm 'webgpu') did not load: ${firstLine(e)}`);
  }
}

let adapterCache: Promise<WebGPUAdapter> | null = null;

/**
 * The adapter tfjs-backend-webgpu will get (it asks for the high-performance one, as here), described. Throws when
 * there is none, naming what to install or set.
 */
export function probeWebGPUAdapter(): Promise<WebGPUAdapter> {
  adapterCache ??= (async () => {
    const { gpu, route } = await gpuEntryPoint();
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter === null) {
      throw new Error(
        route === 'dawn-node'
          ? 'Dawn found no WebGPU adapter (it needs a Vulkan, Metal or D3D12 driver; without a GPU on Linux, point ' +
              'VK_ICD_FILENAMES at SwiftShader, e.g. /usr/lib/chromium/vk_swiftshader_icd.json from Debian\'s chromium)'
          : 'navigator.gpu returned no adapter',
      );
    }
    const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
    const described = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
      route,
    };
    const software = SOFTWARE_ADAPTER.test([described.vendor, described.architecture, described.device, described.description].join(' '));
    return { ...described, emulated: described.isFallbackAdapter || software };
  })();
  adapterCache.catch(() => (adapterCache = null));
  return adapterCache;
}

/** "google swiftshader (emulated on the CPU, fallback adapter: no), via Dawn in Node" */
export function describeWebGPUAdapter(a: WebGPUAdapter): string {
  const name = [a.vendor, a.architecture, a.device, a.description].filter((s, i, all) => s !== '' && all.indexOf(s) === i).join(' ') || 'unnamed adapter';
  const kind = a.emulated ? 'emulated on the CPU: correctness only, not speed' : 'hardware';
  return `${name} (${kind}; fallback adapter: ${a.isFallbackAdapter ? 'yes' : 'no'}), via ${a.route === 'dawn-node' ? 'Dawn in Node' : 'navigator.gpu'}`;
}

/**
 * Makes webgpu the active tfjs backend and returns its adapter. `hardwareOnly` refuses emulated adapters (what
 * `auto` asks for).
 */
export async function loadWebGPU(options: { hardwareOnly?: boolean } = {}): Promise<WebGPUAdapter> {
  const adapter = await probeWebGPUAdapter();
  if (options.hardwareOnly && adapter.emulated) throw new Error(`only an emulated adapter was found: ${describeWebGPUAdapter(adapter)}`);
  await import('@tensorflow/tfjs-backend-webgpu');
  registerWebGPUKernels();
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend failed to initialise');
  trackTensors(tf.backend() as unknown as WebGPUBackendInternals);
  return adapter;
}

/** The parts of tfjs-backend-webgpu's backend that the synchronous-read workaround touches. */
interface WebGPUBackendInternals {
  tensorMap: { get(id: object): { values: unknown; dtype: string } | undefined; set(id: object, v: unknown): void; delete(id: object): boolean };
  readSync(id: object): unknown;
  read(id: object): Promise<unknown>;
}

const liveDataIds = new Set<object>();
const tracked = new WeakSet<object>();

/**
 * tfjs-backend-webgpu reads GPU data synchronously (dataSync, and moving a tensor to another backend) through an
 * OffscreenCanvas, which Node lacks, and WebGPU has no blocking readback. So in Node the backend's tensors are
 * tracked, and {@link downloadWebGPUTensors} reads them all asynchronously before a switch to another backend; any
 * other synchronous read of data still on the GPU fails with an error that says to use `await tensor.data()`.
 */
function trackTensors(backend: WebGPUBackendInternals): void {
  if (tracked.has(backend)) return;
  tracked.add(backend);
  const map = backend.tensorMap;
  const set = map.set.bind(map);
  const del = map.delete.bind(map);
  map.set = (id, v) => {
    liveDataIds.add(id);
    set(id, v);
  };
  map.delete = (id) => {
    liveDataIds.delete(id);
    return del(id);
  };
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return;
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (id) => {
    const data = map.get(id);
    if (data !== undefined && data.values == null && data.dtype !== 'string') {
      throw new Error(
        'The webgpu backend cannot read GPU data synchronously in Node (dataSync, arraySync, or a tensor used on ' +
          'another backend without selectBackend): read it with `await tensor.data()` / `await tensor.array()`.',
      );
    }
    return readSync(id);
  };
}

/**
 * Copies every tensor of the webgpu backend to the CPU side (asynchronously), so that tfjs can move them to
 * another backend. selectBackend calls it before switching away from webgpu.
 */
export async function downloadWebGPUTensors(): Promise<void> {
  const backend = tf.findBackend('webgpu') as unknown as WebGPUBackendInternals | null;
  if (backend === null || !tracked.has(backend)) return;
  const pending = [...liveDataIds].filter((id) => {
    const data = backend.tensorMap.get(id);
    return data !== undefined && data.values == null && data.dtype !== 'string';
  });
  await Promise.all(pending.map((id) => backend.read(id)));
}

/** The adapter of the webgpu backend in use, or null when webgpu has not been selected in this process. */
export async function currentWebGPUAdapter(): Promise<WebGPUAdapter | null> {
  if (adapterCache === null || tf.findBackend('webgpu') === null) return null;
  return adapterCache.catch(() => null);
}

/**
 * Runs `fn` on a backend that reads synchronously (wasm, else cpu) while webgpu is the active backend in Node, then
 * returns to webgpu; elsewhere it just runs `fn`. For third-party code that calls dataSync/arraySync and cannot be
 * made asynchronous (face-api's detector and landmark nets), which would otherwise fail under `--backend webgpu`.
 * `fn` must make its own tensors and not touch webgpu's: those stay where they are (plain tf.setBackend, without
 * selectBackend's download of every webgpu tensor), and webgpu is active again when this returns.
 */
export async function withSyncReadableBackend<T>(fn: () => Promise<T>): Promise<T> {
  const engine = tf.engine() as unknown as { backendName: string | null };
  if (engine.backendName !== 'webgpu' || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return fn();
  await tf.setBackend(await syncReadableBackend());
  try {
    return await fn();
  } finally {
    await tf.setBackend('webgpu');
  }
}

async function syncReadableBackend(): Promise<'wasm' | 'cpu'> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    // Initialises it once; its import re-registered the stock kernels over the training ones.
    if (tf.findBackend('wasm') !== null || (await tf.setBackend('wasm'))) {
      registerWasmTrainingKernels();
      return 'wasm';
    }
  } catch {
    // No wasm binary: the cpu backend always exists.
  }
  return 'cpu';
}
