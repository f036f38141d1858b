import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (name: string): string => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// Packages import each other by name; in tests those names resolve to the sources, so nothing must be built first.
export default defineConfig({
  resolve: {
    alias: {
      '@faceshifter/core': pkg('core'),
      '@faceshifter/train': pkg('train'),
      '@faceshifter/eval': pkg('eval'),
    },
  },
  test: {
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The whole suite runs twice: on wasm (what training here uses) and on cpu (the correctness reference).
    // The fault-injection suite (*.faults.test.ts: kills, locks, disk faults, bad files and bad inputs) tests what
    // does not depend on the tensor backend, so it runs once, on wasm; `yarn test:faults` runs its long form.
    projects: [
      ...(['wasm', 'cpu'] as const).map((backend) => ({
        extends: true as const,
        test: {
          name: backend,
          include: ['packages/*/src/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/*.faults.test.ts'],
          env: { FACESHIFTER_BACKEND: backend },
        },
      })),
      {
        extends: true as const,
        test: { name: 'faults', include: ['packages/*/src/**/*.faults.test.ts'], env: { FACESHIFTER_BACKEND: 'wasm' } },
      },
    ],
  },
});
