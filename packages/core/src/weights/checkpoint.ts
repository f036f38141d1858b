/**
 * This project's checkpoint directory:
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
 * Saving is atomic at the directory level ({@link saveCheckpoint}); {@link writeCheckpointFiles} writes the same
 * files into a directory the caller is staging, for trainers that add their own files inside one
 * writeDirectoryAtomic call.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { resolveModelConfig, type ModelConfig } from '../config/model_config.js';
import { AEINet } from '../models/aei_net.js';
import type { BuildOptions } from '../models/builder.js';
import { HEARNet } from '../models/hear_net.js';
import { MultiscaleDiscriminator } from '../models/multiscale_discriminator.js';
import { namedWeights } from '../models/named_weights.js';
import { COMPLETE_MARKER, findInterruptedDirectories, writeDirectoryAtomic, writeStagedFile } from './atomic_fs.js';
import { NETWORK_NAMES, type NetworkName } from './reference_mapping.js';
import { encodeSafetensors, readSafetensors, type SafetensorsTensor } from './safetensors.js';
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
const OUR_LAYOUT: Record<string, string> = {
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
}

export interface SaveCheckpointOptions extends CheckpointContents {
  /** Writes more files into the staging directory (optimizer state, ...); part of the same atomic save. */
  writeExtraFiles?: (stagingDir: string) => Promise<void>;
}

let toolVersion: string | undefined;
/** This package's version, read from its package.json (same relative place from src/ and dist/). */
function packageVersion(): string {
  if (toolVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
      toolVersion = pkg.version ?? 'unknown';
    } catch {
      toolVersion = 'unknown';
    }
  }
  return toolVersion;
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

function presentNetworks(networks: CheckpointNetworks): NetworkName[] {
  return NETWORK_NAMES.filter((n) => networks[n] !== undefined);
}

/**
 * Writes the checkpoint files into `dir`, which the caller owns (typically the staging directory of a
 * writeDirectoryAtomic call, to which it adds its own files). Not atomic by itself: use {@link saveCheckpoint}.
 */
export async function writeCheckpointFiles(dir: string, contents: CheckpointContents): Promise<CheckpointMeta> {
  const networks = presentNetworks(contents.networks);
  if (networks.length === 0) throw new Error(`checkpoint ${dir}: no networks to save`);
  const step = contents.step ?? null;
  for (const network of networks) {
    const model = contents.networks[network]!;
    const metadata: Record<string, string> = { format: 'faceshifter-ts', layout: 'tfjs-nhwc', network };
    if (step !== null) metadata.step = String(step);
    await writeStagedFile(path.join(dir, networkFile(network)), encodeSafetensors(await networkTensors(model), metadata, path.join(dir, networkFile(network))));
  }
  await writeStagedFile(path.join(dir, CONFIG_FILE), stringifyYaml({ model: contents.config }));
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    tool: { name: '@faceshifter/core', version: packageVersion() },
    created: new Date().toISOString(),
    step,
    networks,
    extra: contents.extra ?? {},
  };
  // meta.json last: a directory with a meta.json has all its network files.
  await writeStagedFile(path.join(dir, META_FILE), JSON.stringify(meta, null, 2) + '\n');
  return meta;
}

/**
 * Saves a checkpoint to `dir` atomically: everything is written to `<dir>.tmp-*` and renamed into place; an
 * existing `<dir>` is renamed aside first and deleted last. A crash at any point leaves either the previous or
 * the new checkpoint complete ({@link resolveCheckpointDir} finds it if the crash came between the two renames).
 * Leftovers of earlier interrupted saves of `dir` are removed once the new checkpoint is in place.
 */
export async function saveCheckpoint(dir: string, options: SaveCheckpointOptions): Promise<CheckpointMeta> {
  let meta: CheckpointMeta | undefined;
  await writeDirectoryAtomic(dir, async (staging) => {
    await writeCheckpointFiles(staging, options);
    if (options.writeExtraFiles) await options.writeExtraFiles(staging);
    meta = (await sealCheckpoint(staging)) as CheckpointMeta;
  });
  const leftovers = await findInterruptedDirectories(dir);
  for (const d of [...leftovers.complete, ...leftovers.previous, ...leftovers.incomplete]) await fs.rm(d, { recursive: true, force: true });
  return meta!;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Files under `dir`, as POSIX paths relative to it, sorted. */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listTree(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * Records the size and SHA-256 of every file of the checkpoint being written in `dir` into its meta.json (made if
 * absent, for trainers that write no networks), so that a truncated or corrupted file is found before it is
 * loaded. Call it last, after every file is written; returns the meta.json written.
 */
export async function sealCheckpoint(dir: string): Promise<Partial<CheckpointMeta>> {
  const metaPath = path.join(dir, META_FILE);
  let meta: Partial<CheckpointMeta> = {};
  try {
    meta = JSON.parse(await fs.readFile(metaPath, 'utf8')) as Partial<CheckpointMeta>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const files: Record<string, CheckpointFileSum> = {};
  for (const rel of await listTree(dir)) {
    if (rel === META_FILE || rel === COMPLETE_MARKER) continue;
    const file = path.join(dir, rel);
    files[rel] = { bytes: (await fs.stat(file)).size, sha256: await sha256File(file) };
  }
  meta.files = files;
  await writeStagedFile(metaPath, JSON.stringify(meta, null, 2) + '\n');
  return meta;
}

/** A checkpoint whose files do not match the sizes and checksums its meta.json records. */
export class CorruptCheckpointError extends Error {
  constructor(readonly dir: string, readonly problems: readonly string[]) {
    super(`${dir}: corrupted checkpoint (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; ${problems.length - 3} more` : ''})`);
    this.name = 'CorruptCheckpointError';
  }
}

/**
 * Checks every file of checkpoint `dir` against the sizes and SHA-256 sums of its meta.json. Throws
 * {@link CorruptCheckpointError} naming each missing, truncated or altered file (and an unreadable meta.json).
 * A checkpoint from before checksums were recorded passes unchecked.
 */
export async function verifyCheckpoint(dir: string): Promise<void> {
  const metaPath = path.join(dir, META_FILE);
  let meta: Partial<CheckpointMeta>;
  try {
    meta = JSON.parse(await fs.readFile(metaPath, 'utf8')) as Partial<CheckpointMeta>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CorruptCheckpointError(dir, [code === 'ENOENT' ? `${META_FILE} is missing` : `${META_FILE} is unreadable (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`]);
  }
  if (meta === null || typeof meta !== 'object') throw new CorruptCheckpointError(dir, [`${META_FILE} is not a JSON object`]);
  if (meta.files === undefined) return;
  const problems: string[] = [];
  for (const [rel, sum] of Object.entries(meta.files)) {
    const file = path.join(dir, rel);
    let size: number;
    try {
      size = (await fs.stat(file)).size;
    } catch {
      problems.push(`${rel} is missing`);
      continue;
    }
    if (size !== sum.bytes) {
      problems.push(size < sum.bytes ? `${rel} is truncated (${size} of ${sum.bytes} bytes)` : `${rel} has ${size} bytes, ${sum.bytes} were written`);
    } else if ((await sha256File(file)) !== sum.sha256) {
      problems.push(`${rel} does not match its checksum`);
    }
  }
  if (problems.length > 0) throw new CorruptCheckpointError(dir, problems);
}

async function isCheckpoint(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, META_FILE));
    return true;
  } catch {
    return false;
  }
}

/**
 * The directory to load `dir` from. Normally `dir` itself; if a save of `dir` was interrupted between moving the
 * old checkpoint aside and renaming the new one into place, the new (complete) staged copy, else the old one,
 * with a line to `log`. Throws a one-line error when there is no checkpoint.
 */
export async function resolveCheckpointDir(dir: string, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<string> {
  if (await isCheckpoint(dir)) return dir;
  const left = await findInterruptedDirectories(dir);
  for (const candidate of [...left.complete, ...left.previous]) {
    if (await isCheckpoint(candidate)) {
      log(`[faceshifter] ${dir}: a save was interrupted; loading ${candidate} (rename it to ${dir} to keep it)`);
      return candidate;
    }
  }
  let exists = false;
  try {
    exists = (await fs.stat(dir)).isDirectory();
  } catch {
    // reported below
  }
  throw new Error(exists ? `${dir}: not a checkpoint (no ${META_FILE}); point --checkpoint at a checkpoint directory` : `${dir}: no such checkpoint directory`);
}

/** Reads and checks meta.json and config.yaml of a checkpoint directory (no weights). */
export async function readCheckpoint(dir: string): Promise<{ dir: string; meta: CheckpointMeta; config: ModelConfig }> {
  const resolved = await resolveCheckpointDir(dir);
  await verifyCheckpoint(resolved);
  const metaPath = path.join(resolved, META_FILE);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await fs.readFile(metaPath, 'utf8')) as CheckpointMeta;
  } catch (e) {
    throw new Error(`${metaPath}: unreadable (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${metaPath}: format is ${JSON.stringify(meta.format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (meta.version > CHECKPOINT_VERSION) {
    throw new Error(`${metaPath}: checkpoint version ${meta.version} is newer than this tool understands (${CHECKPOINT_VERSION}); update @faceshifter/core`);
  }
  if (!Array.isArray(meta.networks) || !meta.networks.every((n) => NETWORK_NAMES.includes(n))) {
    throw new Error(`${metaPath}: networks must be a list of ${NETWORK_NAMES.join(', ')}, got ${JSON.stringify(meta.networks)}`);
  }
  const configPath = path.join(resolved, CONFIG_FILE);
  let doc: unknown;
  try {
    doc = parseYaml(await fs.readFile(configPath, 'utf8'));
  } catch (e) {
    throw new Error(`${configPath}: unreadable (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  const model = (doc as { model?: unknown } | null)?.model;
  let config: ModelConfig;
  try {
    config = resolveModelConfig(model, 'model');
  } catch (e) {
    throw new Error(`${configPath}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { dir: resolved, meta, config };
}

/** Loads one network's checkpoint file into `model`: every weight must be present with its shape, nothing extra. */
export async function loadNetworkFile(file: string, network: NetworkName, model: tf.LayersModel): Promise<void> {
  const st = await readSafetensors(file);
  const expected: ExpectedTensor[] = namedWeights(model).map((w) => ({
    name: w.name,
    shape: w.shape,
    layout: OUR_LAYOUT[w.kind] ?? '',
    assign: (values: Float32Array) => writeVariable(w.variable, values, w.shape),
  }));
  assignTensors(st, expected, { what: `the ${network} network`, hint: "was the checkpoint saved with another model config? (see its config.yaml)" });
}

/**
 * Loads a checkpoint's weights into the given networks (each must be in the checkpoint). Returns meta and
 * config. Networks are checked tensor by tensor, so a network built from another config is a one-line error.
 */
export async function loadCheckpoint(dir: string, networks: CheckpointNetworks): Promise<{ dir: string; meta: CheckpointMeta; config: ModelConfig }> {
  const info = await readCheckpoint(dir);
  for (const network of presentNetworks(networks)) {
    if (!info.meta.networks.includes(network)) {
      throw new Error(`${info.dir}: has no ${network} weights (it holds ${info.meta.networks.join(', ')})`);
    }
    await loadNetworkFile(path.join(info.dir, networkFile(network)), network, networks[network]!);
  }
  return info;
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

/**
 * Builds the networks a checkpoint holds (or the `only` subset) from its config.yaml and loads their weights.
 * The caller disposes them with `dispose()`.
 */
export async function loadCheckpointNetworks(dir: string, options: { only?: readonly NetworkName[] } = {}): Promise<LoadedCheckpoint> {
  const info = await readCheckpoint(dir);
  const wanted = options.only ?? info.meta.networks;
  const networks: CheckpointNetworks = {};
  const dispose = (): void => {
    for (const n of NETWORK_NAMES) networks[n]?.dispose();
  };
  try {
    for (const n of wanted) {
      if (!info.meta.networks.includes(n)) throw new Error(`${info.dir}: has no ${n} weights (it holds ${info.meta.networks.join(', ')})`);
      networks[n] = buildNetwork(n, info.config);
      await loadNetworkFile(path.join(info.dir, networkFile(n)), n, networks[n]!);
    }
  } catch (e) {
    dispose();
    throw e;
  }
  return { ...info, networks, dispose };
}
