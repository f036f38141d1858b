/**
 * @faceshifter/core/node: everything in `@faceshifter/core`, plus what needs Node: the file system (crash-safe
 * writes, checkpoints in directories, weights and config files), photo decoding with sharp, the packaged model
 * files read from node_modules, and the command lines. Importing it installs Node's platform adapters (see
 * platform.ts), so the face models load with no further setup.
 *
 * Why a subpath of one package rather than a second package: the Node side adds no network or layer of its own,
 * only adapters over the same code, and one package keeps one version for both. Code under src/node/ is the only
 * code that may import Node built-ins or native modules; the browser bundle test enforces that for the rest.
 */
import { installPlatform } from '../platform.js';
import { nodeModelFiles } from './package_files.js';
import { readWeightsFile } from './weights_file_fs.js';
import { nodeLogicalCores, threadedWasmFactory } from './wasm_threads.js';

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

export * from '../index.js';

// Command-line plumbing shared by the packages' commands.
export { runCli, usageFailure } from './cli/run_cli.js';

// Crash-safe file and directory writes (checkpoints, outputs), and the fault injection that tests them.
export { writeFileAtomic, writeDirectoryAtomic, writeStagedFile, findInterruptedDirectories, COMPLETE_MARKER } from './atomic_fs.js';
export type { FileChunks, InterruptedDirectories } from './atomic_fs.js';
export { injectWriteFault, injectedWriteFailures, crashPoint } from './failpoints.js';
export type { WriteFault, WriteFaultCode } from './failpoints.js';

// Files on disk: config files, weights files, safetensors.
export { readYamlFile, loadModelConfig } from './config_files.js';
export { readWeightsFile } from './weights_file_fs.js';
export { readSafetensors, writeSafetensors } from './safetensors_fs.js';

// Checkpoint directories: atomic saves, seals, crash recovery.
export {
  saveCheckpoint,
  writeCheckpointFiles,
  loadCheckpoint,
  loadCheckpointNetworks,
  loadNetworkFile,
  readCheckpoint,
  resolveCheckpointDir,
  sealCheckpoint,
  verifyCheckpoint,
} from './checkpoint_fs.js';

// Photos: decoding and encoding through sharp; the packaged model files in node_modules.
export { decodeImage, resizeImage, encodePngSharp, writePng } from './image_io.js';
export type { DecodeOptions } from './image_io.js';
export { packageFile, nodeModelFiles } from './package_files.js';

// The weights and identity commands (`yarn weights`, `yarn identity`), and a file-system IOHandler for
// model.save / tf.loadLayersModel without tfjs-node.
export { exportWeights, importWeights, inspectWeights } from './weights_commands.js';
export type { ExportOptions, ExportResult, ImportOptions } from './weights_commands.js';
export { importIdentityWeights, embedImage } from './identity_commands.js';
export type { ImportIdentityOptions, EmbedImageOptions } from './identity_commands.js';
export { fileSystem, registerFileSystemRouter } from './file_system.js';
