import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'vite';

/**
 * The files the app fetches at run time, copied from the installed packages into the static output (and served from
 * node_modules by the dev server): the pretrained face models under `models/<package>/<file>`, the layout
 * `urlModelFiles` of @faceshifter/core reads, and tfjs's wasm binaries under `tfjs-wasm/`. Nothing comes from a CDN,
 * so a built app works offline and always runs the weights of the pinned package versions.
 */

const require = createRequire(import.meta.url);

/** face-api's networks the pipeline loads (detection, 68 landmarks, recognition), by weights-manifest name. */
const FACE_API_NETS = ['ssd_mobilenetv1_model', 'tiny_face_detector_model', 'face_landmark_68_model', 'face_recognition_model'];
/** Human's graph models the pipeline loads (faceres, the evaluation identity encoder). */
const HUMAN_GRAPHS = ['models/faceres.json'];
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/** Where the app expects each kind of file, relative to its base URL. */
export const MODELS_DIR = 'models';
export const WASM_DIR = 'tfjs-wasm';

function packageRoot(pkg: string): string {
  // Not require.resolve(`${pkg}/package.json`): Human's "exports" map hides its package.json and model files.
  const root = (require.resolve.paths(pkg) ?? []).map((dir) => path.join(dir, pkg)).find((dir) => existsSync(path.join(dir, 'package.json')));
  if (!root) throw new Error(`Package ${pkg} is not installed; run \`yarn install\`.`);
  return root;
}

interface ManifestGroup {
  paths: string[];
}

/** A weights manifest's shard files, relative to the package (the manifest lists them relative to itself). */
function shards(manifestFile: string, groups: ManifestGroup[], pkgRoot: string): string[] {
  const dir = path.dirname(manifestFile);
  return groups.flatMap((g) => g.paths.map((p) => path.relative(pkgRoot, path.join(dir, p)).split(path.sep).join('/')));
}

/** Every static file: its path in the output (POSIX) and its absolute path on disk. */
export function staticFiles(): { out: string; file: string }[] {
  const files: { out: string; file: string }[] = [];
  const add = (pkg: string, root: string, rel: string): void => {
    const file = path.join(root, rel);
    if (!existsSync(file)) throw new Error(`${file}: missing from the installed ${pkg}; reinstall it with \`yarn install --check-files\`.`);
    files.push({ out: `${MODELS_DIR}/${pkg}/${rel}`, file });
  };
  const faceApi = packageRoot('@vladmandic/face-api');
  for (const net of FACE_API_NETS) {
    const manifest = `model/${net}-weights_manifest.json`;
    add('@vladmandic/face-api', faceApi, manifest);
    const groups = JSON.parse(readFileSync(path.join(faceApi, manifest), 'utf8')) as ManifestGroup[];
    for (const shard of shards(path.join(faceApi, manifest), groups, faceApi)) add('@vladmandic/face-api', faceApi, shard);
  }
  const human = packageRoot('@vladmandic/human');
  for (const graph of HUMAN_GRAPHS) {
    add('@vladmandic/human', human, graph);
    const json = JSON.parse(readFileSync(path.join(human, graph), 'utf8')) as { weightsManifest: ManifestGroup[] };
    for (const shard of shards(path.join(human, graph), json.weightsManifest, human)) add('@vladmandic/human', human, shard);
  }
  const wasm = path.join(packageRoot('@tensorflow/tfjs-backend-wasm'), 'dist');
  for (const name of WASM_FILES) files.push({ out: `${WASM_DIR}/${name}`, file: path.join(wasm, name) });
  return files;
}

const CONTENT_TYPES: Record<string, string> = { '.json': 'application/json', '.wasm': 'application/wasm', '.bin': 'application/octet-stream' };

/** The Vite plugin: emits the static files into the build, and serves them in `vite` dev. */
export function staticModelFiles(): Plugin {
  return {
    name: 'faceshifter-static-model-files',
    configureServer(server) {
      const byUrl = new Map(staticFiles().map((f) => [`/${f.out}`, f.file]));
      server.middlewares.use((req, res, next) => {
        const url = decodeURIComponent((req.url ?? '').split('?')[0]!);
        const file = byUrl.get(url);
        if (!file) return next();
        res.setHeader('Content-Type', CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream');
        res.end(readFileSync(file));
      });
    },
    generateBundle() {
      for (const { out, file } of staticFiles()) this.emitFile({ type: 'asset', fileName: out, source: readFileSync(file) });
    },
  };
}
