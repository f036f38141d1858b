import { selectBackend, type BackendRequest } from '@faceshifter/core';

// Every test file runs on one backend: wasm by default (what training here uses), or the one named by
// FACESHIFTER_BACKEND, e.g. `FACESHIFTER_BACKEND=cpu yarn test` for the correctness reference.
const backend = (process.env.FACESHIFTER_BACKEND ?? 'wasm') as BackendRequest;
await selectBackend(backend, { log: () => {} });
