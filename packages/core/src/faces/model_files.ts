import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/**
 * Model files that ship inside the pinned npm packages, read from disk with this project's tfjs.
 *
 * The packages fetch their models over HTTP by default; here every byte comes from node_modules, so nothing
 * touches the network and the weights become tensors of the one tfjs-core instance in the process.
 */

/** The pinned packages whose files are read. Their versions are pinned exactly in packages/core/package.json. */
export type ModelPackage = '@vladmandic/face-api' | '@vladmandic/human';

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

function readOrThrow(file: string, pkg: ModelPackage): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new Error(`Cannot read model file ${file} (${why}); reinstall ${pkg} with \`yarn install --check-files\`.`);
  }
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function decodeGroups(manifest: tf.io.WeightsManifestConfig, dir: string, pkg: ModelPackage): tf.NamedTensorMap {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    for (const p of group.paths) buffers.push(readOrThrow(path.join(dir, p), pkg));
    specs.push(...group.weights);
  }
  return tf.io.decodeWeights(toArrayBuffer(Buffer.concat(buffers)), specs);
}

/**
 * Reads a face-api weights manifest (`<name>-weights_manifest.json` plus its .bin shards) from the package's
 * `model/` folder. Returns constant tensors (dequantised to float32), owned by the caller.
 */
export function loadFaceApiWeights(name: string): tf.NamedTensorMap {
  const pkg = '@vladmandic/face-api';
  const file = packageFile(pkg, `model/${name}-weights_manifest.json`);
  const manifest = JSON.parse(readOrThrow(file, pkg).toString('utf8')) as tf.io.WeightsManifestConfig;
  return decodeGroups(manifest, path.dirname(file), pkg);
}

/** A tfjs graph model's topology and its weights, read from a `model.json` without building a GraphModel. */
export interface GraphModelFiles {
  nodes: GraphNode[];
  weights: tf.NamedTensorMap;
}

/** One node of a TensorFlow GraphDef as the tfjs converter writes it to model.json. */
export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { list?: { i?: string[]; s?: string[] }; s?: string; b?: boolean; i?: string; f?: number }>;
}

function readGraphJson(pkg: ModelPackage, file: string): { full: string; json: { modelTopology?: { node?: GraphNode[] }; weightsManifest?: tf.io.WeightsManifestConfig } } {
  const full = packageFile(pkg, file);
  const json = JSON.parse(readOrThrow(full, pkg).toString('utf8')) as {
    modelTopology?: { node?: GraphNode[] };
    weightsManifest?: tf.io.WeightsManifestConfig;
  };
  if (!json.modelTopology?.node || !json.weightsManifest) {
    throw new Error(`${full} is not a tfjs graph model (no modelTopology.node or weightsManifest); reinstall ${pkg}.`);
  }
  return { full, json };
}

/**
 * A package's graph model (e.g. Human's `models/blazeface.json`, `models/facemesh.json`) as a tf.GraphModel on this
 * project's tfjs, read from disk. For inference only: GraphModel.execute frees intermediates, so it cannot be
 * differentiated (the identity encoders run their own forward passes instead).
 */
export async function loadPackageGraphModel(pkg: ModelPackage, file: string): Promise<tf.GraphModel> {
  const { full, json } = readGraphJson(pkg, file);
  const buffers: Buffer[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest!) {
    for (const p of group.paths) buffers.push(readOrThrow(path.join(path.dirname(full), p), pkg));
    weightSpecs.push(...group.weights);
  }
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs, weightData: toArrayBuffer(Buffer.concat(buffers)) }));
}

/** Reads a graph model (e.g. Human's `models/faceres.json`) and decodes its weights (fp16 to float32). */
export function loadGraphModelFiles(pkg: ModelPackage, file: string): GraphModelFiles {
  const { full, json } = readGraphJson(pkg, file);
  return { nodes: json.modelTopology!.node!, weights: decodeGroups(json.weightsManifest!, path.dirname(full), pkg) };
}
