import type * as tf from '@tensorflow/tfjs';
import type { ModelFiles } from './faces/model_files.js';
import type { SafetensorsFile } from './weights/safetensors.js';
import type { ReadWeightsOptions } from './weights/weights_file.js';

/**
 * What the environment-neutral code needs from its host and cannot do itself: where the packaged model files
 * (face-api, Human) come from, how a weights path is read, and which face-api build to load. Like tfjs's
 * `env().platform`, it is installed once by the host: importing `@faceshifter/core/node` installs Node's (files
 * from node_modules, the file system, face-api's node-wasm build); a browser app calls {@link installPlatform}
 * with e.g. `urlModelFiles('./models')`. Functions that take these as options use them first.
 */
export interface PlatformAdapters {
  /** The packaged model files (face-api's detector, landmarks and recognition nets; Human's faceres). */
  modelFiles: ModelFiles | null;
  /** Reads a weights file named by a path (an InsightFace encoder's `identity.weights`). */
  readWeightsFile: ((path: string, options: ReadWeightsOptions) => Promise<SafetensorsFile>) | null;
  /** Imports the face-api build that shares this project's tfjs; default: its browser ESM build without tfjs. */
  faceApi: (() => Promise<unknown>) | null;
  /** Which host this is, for messages. */
  name: string;
  /** This machine's logical cores, where navigator.hardwareConcurrency does not say (Node 20). */
  logicalCores: (() => number) | null;
  /**
   * A 'wasm' backend factory that runs XNNPACK on `threads` threads, given the wasm package's BackendWasm class;
   * null where tfjs's own init is used (a browser).
   */
  wasmThreadsFactory:
    | ((threads: number, backendClass: new (module: never) => tf.KernelBackend) => () => Promise<tf.KernelBackend>)
    | null;
}

const current: PlatformAdapters = {
  modelFiles: null,
  readWeightsFile: null,
  faceApi: null,
  name: 'browser',
  logicalCores: null,
  wasmThreadsFactory: null,
};

/** Installs (a part of) the host's adapters; later calls replace the parts they name. */
export function installPlatform(adapters: Partial<PlatformAdapters>): void {
  Object.assign(current, adapters);
}

/** The installed adapters. */
export function platform(): Readonly<PlatformAdapters> {
  return current;
}

/** The packaged model files: `given`, else the installed ones, else a one-line error saying how to provide them. */
export function modelFiles(given?: ModelFiles): ModelFiles {
  const files = given ?? current.modelFiles;
  if (files === null) {
    throw new Error(
      "no source for the face models (face-api, Human): in Node import '@faceshifter/core/node'; in a browser call " +
        "installPlatform({ modelFiles: urlModelFiles('<url of the copied model files>') }) or pass `files`",
    );
  }
  return files;
}

/** The few parts of Node's `process` the neutral code uses, where they exist. */
interface NodeProcessLike {
  versions: { node: string };
  env: Record<string, string | undefined>;
  stderr: { write(text: string): unknown };
}

/**
 * Node's `process` when running in Node, else null. Read through globalThis so that the neutral code type-checks
 * and bundles without Node's types or globals (the web app is checked without @types/node).
 */
export function nodeProcess(): NodeProcessLike | null {
  const p = (globalThis as { process?: Partial<NodeProcessLike> }).process;
  return typeof p?.versions?.node === 'string' ? (p as NodeProcessLike) : null;
}

/** Whether this is Node (and not a browser). */
export function isNode(): boolean {
  return nodeProcess() !== null;
}

/** The first line of an error's message, for one-line errors that wrap another. */
export function firstLine(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}
