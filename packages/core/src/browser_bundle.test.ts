import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The environment-neutral entry must bundle for browsers: no Node built-in and no native or Node-only package may be
 * reachable from it. esbuild's --platform=browser already fails on an unresolvable `node:*` import; this plugin
 * also catches bare built-in names in this project's sources, which a bundler could silently stub, and Node-only
 * packages from anywhere. (tfjs's own guarded Node fallbacks, e.g. `fs` in the wasm loader, are mapped away by the
 * packages' "browser" fields, which is their documented browser build.)
 */
const NODE_ONLY_PACKAGES = ['sharp', 'webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'yargs', 'seedrandom/lib/crypto'];
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function forbidNodeImports(found: string[]): Plugin {
  return {
    name: 'forbid-node-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const ours = /\/packages\/[^/]+\/src\//.test(args.importer) && !args.importer.includes('/node_modules/');
        const bare = ours && (args.path.startsWith('node:') || BUILTINS.has(args.path.split('/')[0]!) || BUILTINS.has(args.path));
        const nodeOnly = NODE_ONLY_PACKAGES.some((p) => args.path === p || args.path.startsWith(`${p}/`));
        if (bare || nodeOnly) {
          found.push(`${args.path} (imported by ${args.importer.replace(/.*\/packages\//, 'packages/')})`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
}

async function bundle(entry: string): Promise<{ forbidden: string[]; errors: string[]; bytes: number }> {
  const forbidden: string[] = [];
  const result = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
    plugins: [forbidNodeImports(forbidden)],
  }).catch((e: { errors?: { text: string }[] }) => ({ errors: e.errors ?? [{ text: String(e) }], outputFiles: [] }));
  return { forbidden, errors: result.errors.map((e) => e.text), bytes: result.outputFiles?.reduce((n, f) => n + f.contents.byteLength, 0) ?? 0 };
}

describe('the environment-neutral entry (@faceshifter/core)', () => {
  it('bundles for the browser with no Node built-in or Node-only package', async () => {
    const { forbidden, errors, bytes } = await bundle('./index.ts');
    expect(errors).toEqual([]);
    expect(forbidden).toEqual([]);
    // tfjs with its webgl, wasm and cpu backends, face-api, and this library: a few MB, not a Node tree.
    expect(bytes).toBeGreaterThan(1e6);
  });

  it('is what fails the check when Node code leaks in (the Node entry does not bundle)', async () => {
    const { forbidden } = await bundle('./node/index.ts');
    expect(forbidden.some((f) => f.startsWith('node:fs'))).toBe(true);
    expect(forbidden.some((f) => f.startsWith('sharp'))).toBe(true);
  });
});
