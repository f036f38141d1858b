/**
 * @faceshifter/core: the FaceShifter layer library (AEI-Net, HEAR-Net, the multi-scale discriminator)
 * and the tfjs backend setup it trains on. This file is the package's whole public API.
 */

// Backends: selection, and the wasm training kernels it registers.
export { selectBackend, BackendUnavailableError, BACKEND_CHOICES } from './backend/select_backend.js';
export type { BackendRequest, BackendName, SelectBackendOptions } from './backend/select_backend.js';
export { registerWasmTrainingKernels } from './backend/register_all_kernels.js';

// Command-line plumbing shared by the packages' commands.
export { runCli } from './cli/run_cli.js';

// Images: a PNG codec with tEXt chunks (sample grids, and the synthetic-content mark on every swap).
export { encodePng, decodePng, readPngText } from './image/png.js';
export type { RawImage } from './image/png.js';

// Crash-safe file and directory writes (checkpoints, outputs).
export { writeFileAtomic, writeDirectoryAtomic } from './weights/atomic_fs.js';
