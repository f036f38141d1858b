/**
 * Node's platform adapters (see platform.ts): the packaged model files read from node_modules, weights files read
 * from the file system, face-api's node-wasm build, the core count and the threaded wasm start. Installed by importing `@faceshifter/core/node`, and by
 * {@link runCli}, because the core's own commands import its modules directly rather than through that index: a
 * command that forgot them failed only on its success path (`identity-embed --weights` said "no file system").
 */
import { installPlatform } from '../platform.js';
import { nodeModelFiles } from './package_files.js';
import { readWeightsFile } from './weights_file_fs.js';
import { nodeLogicalCores, threadedWasmFactory } from './wasm_threads.js';

export function installNodePlatform(): void {
  installPlatform({
    name: 'node',
    modelFiles: nodeModelFiles,
    readWeightsFile,
    // face-api's Node build that takes this project's @tensorflow/tfjs as an external require (see faces/detector.ts).
    faceApi: () => import('@vladmandic/face-api/dist/face-api.node-wasm.js'),
    logicalCores: nodeLogicalCores,
    // tfjs's own init runs wasm on one thread in Node; this starts its threaded binary (see wasm_threads.ts).
    wasmThreadsFactory: threadedWasmFactory,
  });
}
