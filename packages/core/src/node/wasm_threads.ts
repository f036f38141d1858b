/**
 * The threaded wasm backend in Node, from the files tfjs-backend-wasm already ships, without rebuilding or patching it.
 *
 * tfjs's own init (dist/backend_wasm.js) cannot run threads in Node for three reasons, each worked around here:
 *  1. WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false when IS_NODE (flags_wasm.js, tfjs issue #3830).
 *  2. It hands Emscripten the pthread worker as a `blob:` URL (locateFile) and the main script as a Blob
 *     (mainScriptUrlOrBlob); Node's worker_threads takes only file paths, and the worker's importScripts reads files.
 *  3. The C++ side caps the pool at emscripten_num_logical_cores() / 2 (backend.cc assumes two hyperthreads per
 *     core), so a 2-core machine gets 1 thread whatever setThreadsCount says.
 * The Emscripten glue itself supports Node (worker_threads, fs-based importScripts), so this calls the threaded
 * factory in wasm-out/ directly with: the worker script written to a file once (its text is the package's own
 * wasmWorkerContents), the factory's own file as the main script, and an `instantiateWasm` hook (an Emscripten
 * Module option) that answers emscripten_num_logical_cores with 2 * threads so the cap is the count asked for.
 * The module is then wrapped in the package's exported BackendWasm, as tfjs's init does.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);
const THREADED = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd';

/** The parts of the Emscripten module this file touches. */
interface ThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  PThread: { unusedWorkers: Worker[]; runningWorkers: Worker[] };
  tfjs?: Record<string, unknown>;
}
// WebAssembly is a global of Node, but its types come with lib.dom, which the Node code is not checked against.
type WasmImports = { env: Record<string, unknown> } & Record<string, unknown>;
interface WasmApi {
  instantiate(binary: Uint8Array, imports: WasmImports): Promise<{ instance: object; module: object }>;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
interface FactoryConfig {
  locateFile(path: string, prefix: string): string;
  mainScriptUrlOrBlob: string;
  instantiateWasm(imports: WasmImports, receive: (instance: object, module: object) => void): object;
  onAbort(what: unknown): void;
}

/**
 * The pthread worker's script as a file. Its text comes from the installed package, so the file name carries its
 * hash; it is written once per version under the temp directory (atomically, as test workers start at once).
 */
function workerScriptFile(): string {
  const { wasmWorkerContents } = require(`${THREADED}.worker.js`) as { wasmWorkerContents: string };
  // The text is a JS template literal in which "\n" escapes became real newlines inside string literals; tfjs
  // re-escapes them the same way before making its blob.
  const text = wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'faceshifter-tfjs-wasm');
  // .cjs: the worker uses require(), and a .js file under a "type": "module" package.json would load as ESM.
  const file = join(dir, `threaded-simd-${hash}.worker.cjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const staged = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(staged, text);
    renameSync(staged, file);
  }
  return file;
}

/** Starts the threaded module with `threads` XNNPACK threads (workers loaded, pool not yet created). */
function startThreadedModule(threads: number): Promise<ThreadedModule> {
  const mainScript = require.resolve(`${THREADED}.js`);
  const wasmFile = join(dirname(mainScript), 'tfjs-backend-wasm-threaded-simd.wasm');
  const factory = require(mainScript) as (config: FactoryConfig) => Promise<ThreadedModule>;
  const workerFile = workerScriptFile();
  return new Promise<ThreadedModule>((resolve, reject) => {
    factory({
      locateFile: (path, prefix) => (path.endsWith('.worker.js') ? workerFile : path.endsWith('.wasm') ? wasmFile : prefix + path),
      // Each worker importScripts this to define WasmBackendModuleThreadedSimd; the file does exactly that.
      mainScriptUrlOrBlob: mainScript,
      instantiateWasm(imports, receive) {
        imports.env.emscripten_num_logical_cores = () => 2 * threads;
        wasmApi.instantiate(readFileSync(wasmFile), imports).then(
          (result) => receive(result.instance, result.module),
          reject,
        );
        return {};
      },
      onAbort: (what) => reject(new Error(`the threaded wasm module aborted: ${String(what)}`)),
    }).then(resolve, reject);
  });
}

/**
 * A 'wasm' backend factory running XNNPACK on `threads` threads: the threaded module, given the same `tfjs`
 * bindings tfjs's init adds, wrapped in `backendClass` (the package's BackendWasm, whose constructor creates the
 * pool from setThreadsCount).
 */
export function threadedWasmFactory(
  threads: number,
  backendClass: new (module: never) => tf.KernelBackend,
): () => Promise<tf.KernelBackend> {
  return async () => {
    const module = await startThreadedModule(threads);
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
    const backend = new backendClass(module as never);
    // The binary pre-spawns 8 workers; the pool now holds threads - 1 of them and never asks for more, so the rest
    // are only memory. The pool's workers wait for work forever: unref'd, they do not keep the process alive.
    for (const worker of module.PThread.unusedWorkers.splice(0)) void worker.terminate();
    for (const worker of module.PThread.runningWorkers) worker.unref();
    return backend;
  };
}

/** Logical cores as Node counts them (cgroup- and affinity-aware). */
export function nodeLogicalCores(): number {
  return availableParallelism();
}
