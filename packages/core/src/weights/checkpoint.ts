/**
 * This project's checkpoint format, environment-neutral (bytes in, networks out; the file-system side, with atomic
 * saves and crash recovery, is node/checkpoint_fs.ts):
 *
 *   <dir>/meta.json                  format, version, tool, created, step, networks (+ `extra` from the trainer)
 *   <dir>/config.yaml                the resolved model config (a valid config file: `model: {...}`)
 *   <dir>/aei.safetensors            AEI-Net (encoder + generator), our names and NHWC layouts,
 *   <dir>/hearnet.safetensors        BatchNorm moving statistics included; each network only when saved
 *   <dir>/discriminator.safetensors
 *   <dir>/<anything else>            files the trainer adds (optimizer state, data-loader state, ...)
 *
 * Tensor names are the tfjs weight names (`encoder.conv1.0/kernel`, `generator.AADBlk1/AAD1/fc1/kernel`), so a
 * checkpoint loads into the networks of its config without any conversion. For the PyTorch reference's names
 * and layouts, export with `yarn weights export` (see reference_mapping.ts).
 *
 * A checkpoint is read through a {@link CheckpointSource}: a directory in Node, the files of a folder picked in a
 * browser, or files served next to a web app.
 */
import * as tf from '@tensorflow/tfjs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { resolveModelConfig, type ModelConfig } from '../config/model_config.js';
import { AEINet } from '../models/aei_net.js';
import type { BuildOptions } from '../models/builder.js';
import { HEARNet } from '../models/hear_net.js';
import { MultiscaleDiscriminator } from '../models/multiscale_discriminator.js';
import { namedWeights } from '../models/named_weights.js';
import { NETWORK_NAMES, type NetworkName } from './reference_mapping.js';
import { firstLine } from '../platform.js';
import { CORE_VERSION } from '../version.js';
import { DEFAULT_FACE_INPUT, parseFaceInput, type FaceInput } from '../faces/face_input.js';
import { encodeSafetensors, parseSafetensors, type SafetensorsFile, type SafetensorsTensor } from './safetensors.js';
import { assignTensors, writeVariable, type ExpectedTensor } from './tensor_set.js';

/** `meta.json`'s `format` value. */
export const CHECKPOINT_FORMAT = 'faceshifter-ts-checkpoint';
/** Bumped when the layout of a checkpoint directory changes incompatibly. */
export const CHECKPOINT_VERSION = 1;
export const META_FILE = 'meta.json';
export const CONFIG_FILE = 'config.yaml';

/** The safetensors file of a network inside a checkpoint. */
export function networkFile(network: NetworkName): string {
  return `${network}.safetensors`;
}

/** Our layout of each kind, for error messages. */
export const OUR_LAYOUT: Record<string, string> = {
  conv2d: 'tfjs HWIO',
  conv2dTranspose: 'tfjs conv2dTranspose [kh,kw,out,in]',
  dense: 'tfjs dense [in,out]',
  vector: '',
};

/** The contents of meta.json. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  tool: { name: string; version: string };
  /** ISO 8601 time of the save. */
  created: string;
  /** Training step, or null for checkpoints not made by a trainer (e.g. an import). */
  step: number | null;
  /** The networks saved, each in `<network>.safetensors`. */
  networks: NetworkName[];
  /** Free-form JSON the caller attached (trainer state summaries, the source of an import, ...). */
  extra: Record<string, unknown>;
  /**
   * The alignment and channel order the networks' weights expect (faces/face_input.ts). Absent in checkpoints
   * written before it was recorded, which are this project's FFHQ-aligned RGB runs.
   */
  faces?: FaceInput;
  /**
   * Size and SHA-256 of every other file of the checkpoint (POSIX paths relative to it), written last by
   * {@link sealCheckpoint}; loaders check them. Absent in checkpoints of earlier versions, which load unchecked.
   */
  files?: Record<string, CheckpointFileSum>;
}

export interface CheckpointFileSum {
  bytes: number;
  sha256: string;
}

/** The networks of a checkpoint: any subset. */
export type CheckpointNetworks = Partial<Record<NetworkName, tf.LayersModel>>;

export interface CheckpointContents {
  /** The resolved model config the networks were built from. */
  config: ModelConfig;
  networks: CheckpointNetworks;
  step?: number | null;
  /** Stored in meta.json under `extra`. */
  extra?: Record<string, unknown>;
  /** What the weights expect; default {@link DEFAULT_FACE_INPUT}. */
  faces?: FaceInput;
}

export interface SaveCheckpointOptions extends CheckpointContents {
  /** Writes more files into the staging directory (optimizer state, ...); part of the same atomic save. */
  writeExtraFiles?: (stagingDir: string) => Promise<void>;
}

/**
 * A network's weights under our names and layouts (BatchNorm moving statistics included). Read asynchronously: GPU
 * backends (webgpu in Node) cannot read synchronously.
 */
export async function networkTensors(model: tf.LayersModel): Promise<[string, SafetensorsTensor][]> {
  const weights = namedWeights(model);
  const values = await Promise.all(weights.map((w) => w.variable.read().data() as Promise<Float32Array>));
  return weights.map((w, i): [string, SafetensorsTensor] => [w.name, { dtype: 'F32', shape: w.shape, data: values[i]! }]);
}

export function presentNetworks(networks: CheckpointNetworks): NetworkName[] {
  return NETWORK_NAMES.filter((n) => networks[n] !== undefined);
}

/** A checkpoint whose files do not match the sizes and checksums its meta.json records. */
export class CorruptCheckpointError extends Error {
  constructor(readonly dir: string, readonly problems: readonly string[]) {
    super(`${dir}: corrupted checkpoint (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; ${problems.length - 3} more` : ''})`);
    this.name = 'CorruptCheckpointError';
  }
}

/** Builds one network of a config (weights as zeros unless `fastInit: false`: they are about to be loaded). */
export function buildNetwork(network: NetworkName, config: ModelConfig, options: BuildOptions = {}): tf.LayersModel {
  const o = { fastInit: true, ...options };
  switch (network) {
    case 'aei':
      return new AEINet(config, o);
    case 'hearnet':
      return new HEARNet(config, o);
    case 'discriminator':
      return new MultiscaleDiscriminator(config, o);
  }
}

/** Networks built from a checkpoint's config with its weights loaded. */
export interface LoadedCheckpoint {
  dir: string;
  meta: CheckpointMeta;
  config: ModelConfig;
  networks: CheckpointNetworks;
  dispose(): void;
}


/** A checkpoint's files, wherever they are. Paths are POSIX and relative to the checkpoint. */
export interface CheckpointSource {
  /** The checkpoint's name in messages: its directory, or the folder a user picked. */
  readonly label: string;
  /** A file's bytes, or null when the checkpoint has no such file. */
  read(rel: string): Promise<Uint8Array | null>;
  /** Where a file is, for messages. */
  where(rel: string): string;
}

/** A checkpoint held in memory (e.g. the files of a folder picked in a browser), keyed by relative path. */
export function checkpointFiles(label: string, files: ReadonlyMap<string, Uint8Array>): CheckpointSource {
  return {
    label,
    where: (rel) => `${label}/${rel}`,
    read: async (rel) => files.get(rel) ?? null,
  };
}

/** The meta.json to write for `contents` (without `files`, which sealing adds). */
export function checkpointMeta(contents: CheckpointContents): CheckpointMeta {
  const networks = presentNetworks(contents.networks);
  return {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    tool: { name: '@faceshifter/core', version: CORE_VERSION },
    created: new Date().toISOString(),
    step: contents.step ?? null,
    networks,
    extra: contents.extra ?? {},
    faces: contents.faces ?? DEFAULT_FACE_INPUT,
  };
}

/** The alignment and channel order a checkpoint's weights expect (the default for checkpoints that record none). */
export function checkpointFaceInput(meta: CheckpointMeta): FaceInput {
  return meta.faces ?? DEFAULT_FACE_INPUT;
}

/** config.yaml's text for a model config. */
export function checkpointConfigText(config: ModelConfig): string {
  return stringifyYaml({ model: config });
}

/** A network's safetensors file, as chunks (header, then each tensor's bytes). */
export async function encodeNetworkFile(network: NetworkName, model: tf.LayersModel, step: number | null, source: string): Promise<Uint8Array[]> {
  const metadata: Record<string, string> = { format: 'faceshifter-ts', layout: 'tfjs-nhwc', network };
  if (step !== null) metadata.step = String(step);
  return encodeSafetensors(await networkTensors(model), metadata, source);
}

/** Checks meta.json's fields: the format, a version this code reads, the networks. */
export function parseCheckpointMeta(bytes: Uint8Array, where: string): CheckpointMeta {
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes)) as CheckpointMeta;
  } catch (e) {
    throw new Error(`${where}: unreadable (${firstLine(e)})`);
  }
  if (meta === null || typeof meta !== 'object') throw new Error(`${where}: unreadable (not a JSON object)`);
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${where}: format is ${JSON.stringify(meta.format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (meta.version > CHECKPOINT_VERSION) {
    throw new Error(`${where}: checkpoint version ${meta.version} is newer than this tool understands (${CHECKPOINT_VERSION}); update @faceshifter/core`);
  }
  if (!Array.isArray(meta.networks) || !meta.networks.every((n) => NETWORK_NAMES.includes(n))) {
    throw new Error(`${where}: networks must be a list of ${NETWORK_NAMES.join(', ')}, got ${JSON.stringify(meta.networks)}`);
  }
  if (meta.faces !== undefined) meta.faces = parseFaceInput(meta.faces, where);
  return meta;
}

/** Parses and validates config.yaml's model section. */
export function parseCheckpointConfig(bytes: Uint8Array, where: string): ModelConfig {
  let doc: unknown;
  try {
    doc = parseYaml(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${where}: unreadable (${firstLine(e)})`);
  }
  const model = (doc as { model?: unknown } | null)?.model;
  try {
    return resolveModelConfig(model, 'model');
  } catch (e) {
    throw new Error(`${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A checkpoint file that must be there, checked against meta.json's size and SHA-256 when it records them. */
async function requiredFile(source: CheckpointSource, rel: string, meta: CheckpointMeta | null): Promise<Uint8Array> {
  const bytes = await source.read(rel);
  if (bytes === null) {
    throw new Error(
      rel === META_FILE
        ? `${source.label}: not a checkpoint (no ${META_FILE}); choose a checkpoint folder (or a run folder holding checkpoints)`
        : `${source.label}: incomplete checkpoint: ${rel} is missing; copy the whole checkpoint folder (its meta.json lists the files)`,
    );
  }
  const sum = meta?.files?.[rel];
  if (sum !== undefined) {
    const problem =
      bytes.byteLength !== sum.bytes
        ? bytes.byteLength < sum.bytes
          ? `${rel} is truncated (${bytes.byteLength} of ${sum.bytes} bytes)`
          : `${rel} has ${bytes.byteLength} bytes, ${sum.bytes} were written`
        : (await sha256Hex(bytes)) !== sum.sha256
          ? `${rel} does not match its checksum`
          : null;
    if (problem !== null) throw new CorruptCheckpointError(source.label, [problem]);
  }
  return bytes;
}

/** Reads and checks meta.json and config.yaml of a checkpoint (no weights). */
export async function readCheckpointFiles(source: CheckpointSource): Promise<{ meta: CheckpointMeta; config: ModelConfig }> {
  const meta = parseCheckpointMeta(await requiredFile(source, META_FILE, null), source.where(META_FILE));
  const config = parseCheckpointConfig(await requiredFile(source, CONFIG_FILE, meta), source.where(CONFIG_FILE));
  return { meta, config };
}

/** Loads one network's safetensors into `model`: every weight must be present with its shape, nothing extra. */
export function loadNetworkWeights(file: SafetensorsFile, network: NetworkName, model: tf.LayersModel): void {
  const expected: ExpectedTensor[] = namedWeights(model).map((w) => ({
    name: w.name,
    shape: w.shape,
    layout: OUR_LAYOUT[w.kind] ?? '',
    assign: (values: Float32Array) => writeVariable(w.variable, values, w.shape),
  }));
  assignTensors(file, expected, { what: `the ${network} network`, hint: "was the checkpoint saved with another model config? (see its config.yaml)" });
}

/**
 * Builds the networks `meta` lists (or the `only` subset) from `config` and loads their weights through `read`.
 * The caller disposes them with `dispose()`; on an error they are disposed here.
 */
export async function buildCheckpointNetworks(
  label: string,
  meta: CheckpointMeta,
  config: ModelConfig,
  read: (network: NetworkName) => Promise<SafetensorsFile>,
  only?: readonly NetworkName[],
): Promise<{ networks: CheckpointNetworks; dispose(): void }> {
  const networks: CheckpointNetworks = {};
  const dispose = (): void => {
    for (const n of NETWORK_NAMES) networks[n]?.dispose();
  };
  try {
    for (const n of only ?? meta.networks) {
      if (!meta.networks.includes(n)) throw new Error(`${label}: has no ${n} weights (it holds ${meta.networks.join(', ')})`);
      networks[n] = buildNetwork(n, config);
      loadNetworkWeights(await read(n), n, networks[n]!);
    }
  } catch (e) {
    dispose();
    throw e;
  }
  return { networks, dispose };
}

/** A checkpoint's networks built from its config with their weights loaded, from any {@link CheckpointSource}. */
export async function loadCheckpointNetworksFromFiles(source: CheckpointSource, options: { only?: readonly NetworkName[] } = {}): Promise<LoadedCheckpoint> {
  const { meta, config } = await readCheckpointFiles(source);
  const built = await buildCheckpointNetworks(
    source.label,
    meta,
    config,
    async (n) => parseSafetensors(await requiredFile(source, networkFile(n), meta), source.where(networkFile(n))),
    options.only,
  );
  return { dir: source.label, meta, config, ...built };
}
