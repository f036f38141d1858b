import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const pkg = (name: string): string => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// Each project sets its own include: a root include would be merged into the webgpu project's.
const ALL_TESTS = ['packages/*/src/**/*.test.ts', 'bench/**/*.test.ts'];
const WEBGPU_TESTS = 'packages/*/src/**/*.webgpu.test.ts';
const FAULT_TESTS = 'packages/*/src/**/*.faults.test.ts';
const BROWSER_TESTS = 'packages/web/test/**/*.browser.test.ts';
// Tests whose subject does not depend on the tensor backend: command lines run as subprocesses, files, bundling,
// the experiment runner's bookkeeping, detection and metrics built on networks whose numerics are tested on both
// backends elsewhere. Running them a second time on cpu would test nothing new and cost ~6 minutes of CI, so they
// run on wasm only. Everything that computes or differentiates with our kernels, layers, networks, losses and
// trainers runs on both.
const BACKEND_INDEPENDENT = [
  'packages/core/src/browser_bundle.test.ts',
  'packages/core/src/version.test.ts',
  'packages/core/src/node/**/*.test.ts',
  'packages/core/src/models/summary.test.ts',
  'packages/core/src/faces/detector.test.ts',
  'packages/core/src/identity/identity_separation.test.ts',
  'packages/core/src/weights/checkpoint.test.ts',
  // The PyTorch names and layouts are data; the PyTorch-semantics forward they are checked with runs on tested kernels.
  'packages/core/src/weights/reference_mapping.test.ts',
  'packages/train/src/data/prepare.test.ts',
  'packages/train/src/trainers/run.test.ts',
  'packages/eval/src/experiments/experiments.test.ts',
  'packages/eval/src/swap/swap.test.ts',
  // Video plumbing (ffmpeg pipes, tracks, rotation, marks) around a pipeline whose numerics are tested elsewhere.
  'packages/eval/src/video/video.test.ts',
  // The README's commands as subprocesses: what is under test is that each runs to its result.
  'packages/eval/src/cli/readme_commands.test.ts',
  'packages/eval/src/metrics/metrics.test.ts',
];

// Packages import each other by name; in tests those names resolve to the sources, so nothing must be built first.
export default defineConfig({
  resolve: {
    // Exact matches, so that '@faceshifter/core' does not also rewrite '@faceshifter/core/node'.
    alias: [
      { find: /^@faceshifter\/core$/, replacement: pkg('core') },
      { find: /^@faceshifter\/core\/node$/, replacement: fileURLToPath(new URL('./packages/core/src/node/index.ts', import.meta.url)) },
      { find: /^@faceshifter\/train$/, replacement: pkg('train') },
      { find: /^@faceshifter\/eval$/, replacement: pkg('eval') },
    ],
  },
  test: {
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The suite runs twice: on wasm (what training here uses) and on cpu (the correctness reference), except the
    // BACKEND_INDEPENDENT files, which run on wasm only.
    // The fault-injection suite (*.faults.test.ts: kills, locks, disk faults, bad files and bad inputs) tests what
    // does not depend on the tensor backend, so it runs once, on wasm; `yarn test:faults` runs its long form.
    // The `webgpu` project runs only the *.webgpu.test.ts audits (webgpu against cpu), and skips them, saying why,
    // where no WebGPU adapter is found.
    projects: [
      ...(['wasm', 'cpu'] as const).map((backend) => ({
        extends: true as const,
        test: {
          name: backend,
          include: ALL_TESTS,
          exclude: [...configDefaults.exclude, FAULT_TESTS, WEBGPU_TESTS, ...(backend === 'cpu' ? BACKEND_INDEPENDENT : [])],
          env: { FACESHIFTER_BACKEND: backend },
          sequence: { groupOrder: 0 },
        },
      })),
      {
        extends: true as const,
        test: { name: 'faults', include: [FAULT_TESTS], env: { FACESHIFTER_BACKEND: 'wasm' }, sequence: { groupOrder: 0 } },
      },
      // After the others, not beside them: SwiftShader keeps every core busy and would starve their timed-out tests.
      { extends: true as const, test: { name: 'webgpu', env: { FACESHIFTER_BACKEND: 'webgpu' }, include: [WEBGPU_TESTS], sequence: { groupOrder: 1 } } },
      // The web app in Debian's chromium (playwright-core), built and served on 127.0.0.1; its Node side (the swap it
      // is compared with) runs on wasm, as the page does. Last and alone: chromium and the build take both cores.
      { extends: true as const, test: { name: 'browser', include: [BROWSER_TESTS], env: { FACESHIFTER_BACKEND: 'wasm' }, sequence: { groupOrder: 2 } } },
    ],
  },
});
