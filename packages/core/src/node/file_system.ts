/**
 * A tf.io.IOHandler that saves and loads LayersModels on the local file system, in the standard tfjs layout
 * (`model.json` + `weights.bin`), so `model.save(fileSystem('runs/x/g'))` and
 * `tf.loadLayersModel(fileSystem('runs/x/g'))` work without tfjs-node (whose `file://` handler is unavailable here).
 *
 * Saves replace the whole directory atomically: a reader never sees a model.json paired with other weights.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { COMPLETE_MARKER, writeDirectoryAtomic, writeStagedFile } from './atomic_fs.js';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

/** Files a saved model directory may hold; anything else means the directory is not ours to replace. */
function isModelFile(name: string): boolean {
  return name === MODEL_JSON || name === COMPLETE_MARKER || /^weights.*\.bin$/.test(name);
}

/** The weight data as a list of byte views, without joining shards. */
function weightChunks(data: tf.io.WeightData | undefined): Uint8Array[] {
  if (data == null) return [];
  const list = Array.isArray(data) ? data : [data];
  return list.map((b) => new Uint8Array(b));
}

/** An ArrayBuffer holding exactly a Buffer's bytes (copying only when the Buffer is a slice of a larger one). */
function exactArrayBuffer(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer;
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

class FileSystemHandler implements tf.io.IOHandler {
  constructor(private readonly target: string) {}

  async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new Error(`fileSystem(${this.target}): binary (GraphDef) topologies are not supported; save a LayersModel`);
    }
    const dir = this.target;
    await this.refuseForeignDirectory(dir);
    const chunks = weightChunks(artifacts.weightData);
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology ?? {},
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: chunks.length > 0 ? [`./${WEIGHTS_BIN}`] : [], weights: artifacts.weightSpecs ?? [] }],
    };
    if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
    if (artifacts.signature != null) modelJson.signature = artifacts.signature;
    if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
    if (artifacts.modelInitializer != null) modelJson.modelInitializer = artifacts.modelInitializer;
    if (artifacts.initializerSignature != null) modelJson.initializerSignature = artifacts.initializerSignature;

    await writeDirectoryAtomic(dir, async (staging) => {
      if (chunks.length > 0) await writeStagedFile(path.join(staging, WEIGHTS_BIN), chunks);
      await writeStagedFile(path.join(staging, MODEL_JSON), JSON.stringify(modelJson));
    });
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }

  async load(): Promise<tf.io.ModelArtifacts> {
    const jsonPath = this.target.endsWith('.json') ? this.target : path.join(this.target, MODEL_JSON);
    let text: string;
    try {
      text = await fs.readFile(jsonPath, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `${jsonPath}: no such file (save a model there first)` : `${jsonPath}: ${String(e)}`);
    }
    let modelJson: tf.io.ModelJSON;
    try {
      modelJson = JSON.parse(text) as tf.io.ModelJSON;
    } catch (e) {
      throw new Error(`${jsonPath}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    if (modelJson.modelTopology == null) throw new Error(`${jsonPath}: no modelTopology field; not a tfjs model.json`);
    const dir = path.dirname(jsonPath);
    return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of manifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const file = path.join(dir, p);
          try {
            buffers.push(exactArrayBuffer(await fs.readFile(file)));
          } catch (e) {
            throw new Error(`${file}: cannot read weights named in ${jsonPath} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
          }
        }
      }
      return [specs, buffers.length === 1 ? buffers[0]! : buffers];
    });
  }

  private async refuseForeignDirectory(dir: string): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code === 'ENOTDIR') throw new Error(`fileSystem(${dir}): exists and is not a directory; pass a directory path`);
      throw e;
    }
    const foreign = names.filter((n) => !isModelFile(n));
    if (foreign.length > 0) {
      throw new Error(
        `fileSystem(${dir}): the directory holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}); ` +
          'a save replaces the whole directory, so point it at an empty or model-only directory',
      );
    }
  }
}

/**
 * An IOHandler for a directory on the local file system: `save` writes `<dir>/model.json` and `<dir>/weights.bin`
 * atomically; `load` reads them (or a `model.json` path given directly).
 */
export function fileSystem(dir: string): tf.io.IOHandler {
  return new FileSystemHandler(dir);
}

const SCHEME = 'file://';

/**
 * Routes `file://` URLs to {@link fileSystem} for `model.save('file://...')` and `tf.loadLayersModel('file://...')`.
 * Does nothing when another handler already serves `file://` (tfjs-node registers one), so the two never clash.
 * Returns whether the router was registered.
 */
export function registerFileSystemRouter(): boolean {
  if (tf.io.getSaveHandlers(`${SCHEME}probe`).length > 0) return false;
  // tfjs routers return null for URLs they do not serve, although the IORouter type omits it.
  const route = ((url: string | string[]): tf.io.IOHandler | null =>
    typeof url === 'string' && url.startsWith(SCHEME) ? fileSystem(url.slice(SCHEME.length)) : null) as (url: string | string[]) => tf.io.IOHandler;
  tf.io.registerSaveRouter(route);
  tf.io.registerLoadRouter(route);
  return true;
}
