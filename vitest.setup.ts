import { selectBackend, type BackendRequest } from '@faceshifter/core';

// Each test file runs on one backend, named by FACESHIFTER_BACKEND: vitest.config.ts runs the suite once on wasm
// (what training here uses) and once on cpu (the correctness reference). Run one with `yarn test --project cpu`.
const backend = (process.env.FACESHIFTER_BACKEND ?? 'wasm') as BackendRequest;
await selectBackend(backend, { log: () => {} });
