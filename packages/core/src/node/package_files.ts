import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { ModelFiles, ModelPackage } from '../faces/model_files.js';

/** The packaged model files in Node: read from the installed packages in node_modules, never fetched. */

const require = createRequire(import.meta.url);

/** Absolute path of `file` inside an installed package, with a one-line error naming the fix when it is missing. */
export function packageFile(pkg: ModelPackage, file: string): string {
  // Not require.resolve(`${pkg}/package.json`): @vladmandic/human's "exports" map does not expose package.json,
  // nor its model files. Walk the same node_modules folders Node would search instead.
  const root = (require.resolve.paths(pkg) ?? [])
    .map((dir) => path.join(dir, pkg))
    .find((dir) => existsSync(path.join(dir, 'package.json')));
  if (!root) throw new Error(`Package ${pkg} is not installed; run \`yarn install\` (it is a dependency of @faceshifter/core).`);
  return path.join(root, file);
}

/** {@link ModelFiles} over the installed packages. */
export const nodeModelFiles: ModelFiles = {
  where: packageFile,
  async read(pkg, file) {
    const full = packageFile(pkg, file);
    try {
      const b = await readFile(full);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new Error(`Cannot read model file ${full} (${why}); reinstall ${pkg} with \`yarn install --check-files\`.`);
    }
  },
};
