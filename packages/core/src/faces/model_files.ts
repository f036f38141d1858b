import * as tf from '@tensorflow/tfjs';
import { modelFiles } from '../platform.js';
import { concatChunks } from '../weights/safetensors.js';

/**
 * Model files that ship inside the pinned npm packages (face-api's nets, Human's faceres), decoded into tensors of
 * this project's tfjs. Where the bytes come from is the host's business ({@link ModelFiles}): in Node the installed
 * node_modules (never the network); in a browser the copies a web app serves next to itself (never a CDN).
 */

/** The pinned packages whose files are read. Their versions are pinned exactly in packages/core/package.json. */
export type ModelPackage = '@vladmandic/face-api' | '@vladmandic/human';

/** Where the packages' model files are read from. */
export interface ModelFiles {
  /** A file's bytes; a missing or unreadable file is a one-line error naming it and the fix. */
  read(pkg: ModelPackage, file: string): Promise<Uint8Array>;
  /** Where a file is (a path or URL), for messages. */
  where(pkg: ModelPackage, file: string): string;
}

/**
 * Model files served over HTTP under `baseUrl`, laid out as in the packages: `<baseUrl>/<package>/<file>`, e.g.
 * `models/@vladmandic/face-api/model/ssd_mobilenetv1_model.bin`.
 */
export function urlModelFiles(baseUrl: string, fetchImpl: typeof fetch = (...a) => globalThis.fetch(...a)): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const where = (pkg: ModelPackage, file: string): string => `${base}${pkg}/${file}`;
  return {
    where,
    async read(pkg, file) {
      const url = where(pkg, file);
      let response: Response;
      try {
        response = await fetchImpl(url);
      } catch (e) {
        throw new Error(`Cannot fetch model file ${url} (${e instanceof Error ? e.message : String(e)}); serve the app's models/ folder with it`);
      }
      if (!response.ok) throw new Error(`Cannot fetch model file ${url} (HTTP ${response.status}); the app's build copies ${pkg}'s files there`);
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

function parseJson<T>(bytes: Uint8Array, where: string, pkg: ModelPackage): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new Error(`${where} is not valid JSON (${e instanceof Error ? e.message : String(e)}); reinstall ${pkg}.`);
  }
}

function dirOf(file: string): string {
  const i = file.lastIndexOf('/');
  return i < 0 ? '' : file.slice(0, i + 1);
}

async function readShards(manifest: tf.io.WeightsManifestConfig, pkg: ModelPackage, dir: string, files: ModelFiles): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer }> {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const paths: string[] = [];
  for (const group of manifest) {
    paths.push(...group.paths.map((p) => dir + p));
    specs.push(...group.weights);
  }
  const shards = await Promise.all(paths.map((p) => files.read(pkg, p)));
  return { specs, data: concatChunks(shards).buffer as ArrayBuffer };
}

/**
 * Reads a face-api weights manifest (`<name>-weights_manifest.json` plus its .bin shards) from the package's
 * `model/` folder. Returns constant tensors (dequantised to float32), owned by the caller.
 */
export async function loadFaceApiWeights(name: string, files?: ModelFiles): Promise<tf.NamedTensorMap> {
  const source = modelFiles(files);
  const pkg = '@vladmandic/face-api';
  const file = `model/${name}-weights_manifest.json`;
  const manifest = parseJson<tf.io.WeightsManifestConfig>(await source.read(pkg, file), source.where(pkg, file), pkg);
  const { specs, data } = await readShards(manifest, pkg, dirOf(file), source);
  return tf.io.decodeWeights(data, specs);
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

interface GraphJson {
  modelTopology?: { node?: GraphNode[] };
  weightsManifest?: tf.io.WeightsManifestConfig;
}

async function readGraphJson(pkg: ModelPackage, file: string, files: ModelFiles): Promise<GraphJson & Required<GraphJson>> {
  const json = parseJson<GraphJson>(await files.read(pkg, file), files.where(pkg, file), pkg);
  if (!json.modelTopology?.node || !json.weightsManifest) {
    throw new Error(`${files.where(pkg, file)} is not a tfjs graph model (no modelTopology.node or weightsManifest); reinstall ${pkg}.`);
  }
  return json as GraphJson & Required<GraphJson>;
}

/**
 * A package's graph model (e.g. Human's `models/blazeface.json`, `models/facemesh.json`) as a tf.GraphModel on this
 * project's tfjs. For inference only: GraphModel.execute frees intermediates, so it cannot be differentiated (the
 * identity encoders run their own forward passes instead).
 */
export async function loadPackageGraphModel(pkg: ModelPackage, file: string, files?: ModelFiles): Promise<tf.GraphModel> {
  const source = modelFiles(files);
  const json = await readGraphJson(pkg, file, source);
  const { specs, data } = await readShards(json.weightsManifest, pkg, dirOf(file), source);
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs, weightData: data }));
}

/** Reads a graph model (e.g. Human's `models/faceres.json`) and decodes its weights (fp16 to float32). */
export async function loadGraphModelFiles(pkg: ModelPackage, file: string, files?: ModelFiles): Promise<GraphModelFiles> {
  const source = modelFiles(files);
  const json = await readGraphJson(pkg, file, source);
  const { specs, data } = await readShards(json.weightsManifest, pkg, dirOf(file), source);
  return { nodes: json.modelTopology.node!, weights: tf.io.decodeWeights(data, specs) };
}
