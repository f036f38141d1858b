import { afterEach } from 'vitest';
// Tests run in Node: the Node entry installs the platform adapters (model files from node_modules, weights paths).
import { selectBackend, type BackendRequest } from '@faceshifter/core/node';

// Each test file runs on one backend, named by FACESHIFTER_BACKEND: vitest.config.ts runs the suite once on wasm
// (what training here uses) and once on cpu (the correctness reference), and the webgpu audits on webgpu. Run one
// with `yarn test --project cpu`.
const backend = (process.env.FACESHIFTER_BACKEND ?? 'wasm') as BackendRequest;
if (backend === 'webgpu') {
  // No adapter is not a failure here: the webgpu tests skip, naming the reason (test_utils/webgpu_tests.ts).
  try {
    await selectBackend('webgpu', { log: (line) => process.stderr.write(line + '\n') });
  } catch (e) {
    process.env.FACESHIFTER_WEBGPU_UNAVAILABLE = e instanceof Error ? e.message : String(e);
    await selectBackend('cpu', { log: () => {} });
  }
} else {
  // One wasm thread unless FACESHIFTER_WASM_THREADS says otherwise: vitest already runs a file per core, and the
  // kernel tests are meant to pass at any count (FACESHIFTER_WASM_THREADS=2 or 4 npx vitest run --project wasm ...).
  const threads = process.env.FACESHIFTER_WASM_THREADS ? undefined : 1;
  await selectBackend(backend, { log: () => {}, threads });
}

// A worker's replies from vitest arrive as I/O, which the event loop reads only when it turns. cpu kernels are
// synchronous and their awaits settle as microtasks, so a run of tests can hold the loop for over a minute, and
// vitest's 60 s RPC timer then fires before the waiting reply is read ("Timeout calling onTaskUpdate"). One
// setImmediate after each test lets the loop pass its I/O phase.
afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
