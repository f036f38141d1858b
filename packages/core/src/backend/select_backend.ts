import * as tf from '@tensorflow/tfjs';
import { firstLine, isNode, nodeProcess, platform } from '../platform.js';
import { registerCpuKernels, registerWasmTrainingKernels } from './register_all_kernels.js';
import { describeWebGPUAdapter, downloadWebGPUTensors, loadWebGPU } from './webgpu.js';

/**
 * A backend a user can ask for. `tensorflow` is libtensorflow through tfjs-node(-gpu); `webgpu` is any Vulkan,
 * Metal or D3D12 GPU through Dawn (npm `webgpu`) in Node, or the browser's navigator.gpu.
 */
export type BackendRequest = 'auto' | 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
/** The backend that actually runs, as tfjs names it. */
export type BackendName = 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

export const BACKEND_CHOICES: readonly BackendRequest[] = ['auto', 'tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'];

export interface SelectBackendOptions {
  /** Where the one-line "backend: ..." report goes. Defaults to stderr (console.warn in a browser), so that `--json` output on stdout stays parseable. */
  log?: (line: string) => void;
  /**
   * Where the wasm backend's .wasm files are served (a URL prefix ending in '/'). Browsers need it unless the
   * files sit next to the page; Node finds them in node_modules.
   */
  wasmPaths?: string;
  /**
   * wasm only: how many threads XNNPACK runs on (1..{@link MAX_WASM_THREADS}). Unset: the running wasm backend's
   * count if there is one, else FACESHIFTER_WASM_THREADS, else {@link defaultWasmThreads}. More than one needs
   * Node, or a cross-origin isolated page; elsewhere the backend runs on one thread and the log line says why.
   */
  threads?: number;
}

/**
 * The wasm binary pre-spawns 8 pthread workers and pthreadpool cannot add more while the main thread waits on it,
 * so 8 is the most threads it can run.
 */
export const MAX_WASM_THREADS = 8;

/** Logical cores of this machine (Node: os.availableParallelism; a browser: navigator.hardwareConcurrency). */
export function logicalCores(): number {
  const fromPlatform = platform().logicalCores?.();
  const fromNavigator = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Math.max(1, fromPlatform ?? fromNavigator ?? 1);
}

/** The thread count used when none is asked for: one per logical core, at most {@link MAX_WASM_THREADS}. */
export function defaultWasmThreads(): number {
  return Math.min(logicalCores(), MAX_WASM_THREADS);
}

/**
 * Checks a thread count given as `name` (a command-line option, an option field or an environment variable) and
 * returns it as a number; anything but a whole number in 1..{@link MAX_WASM_THREADS} is one line naming `name`.
 */
export function parseThreads(value: unknown, name = '--threads'): number {
  const text = typeof value === 'string' ? value.trim() : value;
  const n = typeof text === 'number' ? text : typeof text === 'string' && /^[+]?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new Error(`${name} must be a whole number from 1 to ${MAX_WASM_THREADS} (wasm threads), got '${String(value)}'.`);
  }
  return n;
}

/** The `--threads` option of the commands that take `--backend` (yargs), checked by {@link parseThreads}. */
export const THREADS_OPTION = {
  type: 'string',
  describe: `wasm backend threads, 1-${MAX_WASM_THREADS} (default: FACESHIFTER_WASM_THREADS, else one per core, at most ${MAX_WASM_THREADS})`,
  coerce: (value: unknown): number => parseThreads(value),
} as const;


const INSTALL_HINT: Record<BackendName, string> = {
  tensorflow:
    'install it with `yarn add @tensorflow/tfjs-node-gpu@4.22.0` (NVIDIA GPU, CUDA 11.2 + cuDNN 8.1) ' +
    'or `yarn add @tensorflow/tfjs-node@4.22.0` (CPU); both download libtensorflow at install time',
  webgl: 'it needs a browser with WebGL 2 or 1 (Node has none)',
  webgpu:
    'it needs the optional dependencies `webgpu` (Dawn, for Node) and `@tensorflow/tfjs-backend-webgpu` ' +
    '(`yarn install`, which installs them on linux-x64, macOS and Windows) and a GPU driver (Vulkan, Metal or D3D12)',
  wasm: 'reinstall dependencies with `yarn install`: @tensorflow/tfjs-backend-wasm is a dependency of @faceshifter/core',
  cpu: 'reinstall dependencies with `yarn install`: the cpu backend ships with @tensorflow/tfjs',
};

/** Thrown when a backend asked for by name cannot load; the message says how to install it. */
export class BackendUnavailableError extends Error {
  constructor(readonly backend: BackendName, cause: unknown) {
    const why = firstLine(cause);
    super(`Backend '${backend}' is not available (${why}); ${INSTALL_HINT[backend]}.`);
    this.name = 'BackendUnavailableError';
  }
}

// Dynamic imports keep the optional native packages out of the module graph of users who never ask for them.
async function loadTensorflow(): Promise<string> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but did not register the 'tensorflow' backend`);
      return pkg;
    } catch (e) {
      errors.push(`${pkg}: ${firstLine(e)}`);
    }
  }
  throw new Error(errors.join('; '));
}

type WasmPackage = typeof import('@tensorflow/tfjs-backend-wasm');
type BackendFactory = () => tf.KernelBackend | Promise<tf.KernelBackend>;

// tfjs-backend-wasm's own registration priority, kept so that tfjs's default backend order is unchanged.
const WASM_PRIORITY = 2;
/** The thread count the registered 'wasm' factory builds; null until this module first registers one. */
let registeredWasmThreads: number | null = null;
let stockWasmFactory: BackendFactory | null = null;

/** The threads the next wasm backend gets: `options.threads`, else the running count, else the env, else the default. */
function requestedWasmThreads(options: SelectBackendOptions): number {
  if (options.threads !== undefined) return parseThreads(options.threads, 'threads');
  if (registeredWasmThreads !== null) return registeredWasmThreads;
  const fromEnv = nodeProcess()?.env.FACESHIFTER_WASM_THREADS;
  if (fromEnv !== undefined && fromEnv !== '') return parseThreads(fromEnv, 'FACESHIFTER_WASM_THREADS');
  return defaultWasmThreads();
}

/**
 * Registers the 'wasm' backend factory for `threads`. In Node, 1 thread is tfjs's own single-threaded SIMD binary and
 * more is the threaded binary started with its workers as files (platform().wasmThreadsFactory; tfjs's own init
 * gives them as blob: URLs, which Node's worker_threads refuse, tfjs issue #3830). In a browser it is tfjs's own
 * init, which takes the threaded binary where the page is cross-origin isolated. A running wasm backend with
 * another count is replaced, which it can only be while it holds no tensors.
 */
function registerWasmFactory(wasm: WasmPackage, threads: number): void {
  if (registeredWasmThreads === threads) return;
  stockWasmFactory ??= tf.findBackendFactory('wasm');
  if (stockWasmFactory === null) throw new Error('@tensorflow/tfjs-backend-wasm did not register its backend');
  const running = tf.findBackend('wasm');
  if (running !== null && running.numDataIds() > 0) {
    throw new Error(
      `the wasm backend already runs on ${wasm.getThreadsCount()} thread(s) and holds ${running.numDataIds()} tensor(s); ` +
        `choose the thread count before creating tensors on it, or dispose them first`,
    );
  }
  const threaded = platform().wasmThreadsFactory;
  let factory = stockWasmFactory;
  if (threads > 1 && threaded) factory = threaded(threads, wasm.BackendWasm);
  wasm.setThreadsCount(threads);
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', factory, WASM_PRIORITY);
  registeredWasmThreads = threads;
}

async function loadWasm(_auto: boolean, options: SelectBackendOptions): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (options.wasmPaths !== undefined) wasm.setWasmPaths(options.wasmPaths);
  const requested = requestedWasmThreads(options);
  registerWasmFactory(wasm, requested);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  registerWasmTrainingKernels();
  const threads = wasm.getThreadsCount();
  return `${threads} thread${threads === 1 ? '' : 's'}${threads < requested ? `; ${requested} asked for: ${fewerThreadsReason()}` : ''}`;
}

/** Why a browser's wasm backend runs on fewer threads than asked for. */
function fewerThreadsReason(): string {
  if (isNode()) {
    return platform().wasmThreadsFactory
      ? 'the threaded wasm binary started fewer'
      : "Node's platform adapters are not installed (import '@faceshifter/core/node'), so tfjs's one-thread init ran";
  }
  if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated) {
    return 'the page is not cross-origin isolated (serve it with COOP: same-origin and COEP: require-corp), so there is no SharedArrayBuffer';
  }
  return 'tfjs runs at most half of navigator.hardwareConcurrency threads in a browser';
}

async function loadCpu(): Promise<string> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
  registerCpuKernels();
  // Its first write prints a multi-line banner recommending tfjs-node; the choice was deliberate and is logged once.
  (tf.backend() as { firstUse?: boolean }).firstUse = false;
  return 'pure JS, the correctness reference';
}

async function loadWebgl(): Promise<string> {
  if (isNode()) throw new Error('WebGL exists only in browsers');
  if (!(await tf.setBackend('webgl'))) throw new Error('WebGL did not initialise (no WebGL context)');
  return `WebGL ${tf.env().getNumber('WEBGL_VERSION')}`;
}

// `auto` takes webgpu on a real GPU only: on an emulated adapter (SwiftShader, llvmpipe) wasm is far faster.
async function loadWebgpu(auto: boolean): Promise<string> {
  return `adapter ${describeWebGPUAdapter(await loadWebGPU({ hardwareOnly: auto }))}`;
}

const LOADERS: Record<BackendName, (auto: boolean, options: SelectBackendOptions) => Promise<string>> = {
  tensorflow: async () => {
    if (!isNode()) throw new Error('tfjs-node runs only in Node');
    return loadTensorflow();
  },
  webgpu: loadWebgpu,
  webgl: loadWebgl,
  wasm: loadWasm,
  cpu: loadCpu,
};
// Node: libtensorflow, then a GPU through Dawn, then wasm. Browsers: WebGPU, then WebGL, then wasm.
const AUTO_ORDER_NODE: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];
const AUTO_ORDER_BROWSER: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/**
 * Makes one backend the active tfjs backend and logs one line naming it.
 *
 * `auto` takes, in Node, tfjs-node-gpu, else tfjs-node, else webgpu on a hardware adapter, else wasm, else cpu; in
 * a browser, webgpu on a hardware adapter, else webgl, else wasm, else cpu. A backend
 * named explicitly that cannot load is a {@link BackendUnavailableError}. On wasm it also registers the gradient
 * kernels training needs; on cpu, a fast Conv2DBackpropFilter equal to the stock one. The webgpu line names the adapter and says whether it is emulated or a fallback adapter.
 * Switching backends within a process, any number of times, is allowed: tensors move with tfjs's own copy.
 */
export async function selectBackend(request: BackendRequest = 'auto', options: SelectBackendOptions = {}): Promise<BackendName> {
  if (!BACKEND_CHOICES.includes(request)) {
    throw new Error(`Unknown backend '${String(request)}': choose one of ${BACKEND_CHOICES.join(', ')}.`);
  }
  // Bad input is the caller's, not a backend that failed to load: say so before trying any.
  if (options.threads !== undefined) parseThreads(options.threads, 'threads');
  const node = nodeProcess();
  const log = options.log ?? (node ? (line: string) => void node.stderr.write(line + '\n') : (line: string) => console.warn(line));
  const candidates = request === 'auto' ? (isNode() ? AUTO_ORDER_NODE : AUTO_ORDER_BROWSER) : [request];
  const failures: string[] = [];
  // Tensors still on the GPU cannot be moved synchronously in Node; fetch them first (a no-op elsewhere).
  if ((tf.engine() as unknown as { backendName: string | null }).backendName === 'webgpu') await downloadWebGPUTensors();
  for (const name of candidates) {
    try {
      const detail = await LOADERS[name](request === 'auto', options);
      await tf.ready();
      log(`[faceshifter] backend: ${name} (${detail})${failures.length ? `; skipped ${failures.join(', ')}` : ''}`);
      return name;
    } catch (e) {
      if (request !== 'auto') throw new BackendUnavailableError(name, e);
      failures.push(name === 'webgpu' ? `webgpu (${firstLine(e)})` : `${name} (unavailable)`);
    }
  }
  throw new Error('No tfjs backend could be loaded; reinstall dependencies with `yarn install`.');
}
