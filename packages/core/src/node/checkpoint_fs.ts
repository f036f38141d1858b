/**
 * Checkpoints on disk: atomic saves (a crash leaves the previous or the new checkpoint whole), SHA-256 seals, and
 * loading with crash recovery. The format itself, and loading from bytes, are environment-neutral
 * (weights/checkpoint.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ModelConfig } from '../config/model_config.js';
import { firstLine } from '../platform.js';
import {
  buildCheckpointNetworks,
  checkpointConfigText,
  checkpointMeta,
  CONFIG_FILE,
  CorruptCheckpointError,
  encodeNetworkFile,
  META_FILE,
  networkFile,
  loadNetworkWeights,
  parseCheckpointConfig,
  parseCheckpointMeta,
  presentNetworks,
  type CheckpointContents,
  type CheckpointFileSum,
  type CheckpointMeta,
  type CheckpointNetworks,
  type LoadedCheckpoint,
  type SaveCheckpointOptions,
} from '../weights/checkpoint.js';
import type { NetworkName } from '../weights/reference_mapping.js';
import { COMPLETE_MARKER, findInterruptedDirectories, writeDirectoryAtomic, writeStagedFile } from './atomic_fs.js';
import { readSafetensors } from './safetensors_fs.js';

/**
 * Writes the checkpoint files into `dir`, which the caller owns (typically the staging directory of a
 * writeDirectoryAtomic call, to which it adds its own files). Not atomic by itself: use {@link saveCheckpoint}.
 */
export async function writeCheckpointFiles(dir: string, contents: CheckpointContents): Promise<CheckpointMeta> {
  const networks = presentNetworks(contents.networks);
  if (networks.length === 0) throw new Error(`checkpoint ${dir}: no networks to save`);
  const meta = checkpointMeta(contents);
  for (const network of networks) {
    const file = path.join(dir, networkFile(network));
    await writeStagedFile(file, await encodeNetworkFile(network, contents.networks[network]!, meta.step, file));
  }
  await writeStagedFile(path.join(dir, CONFIG_FILE), checkpointConfigText(contents.config));
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
    throw new CorruptCheckpointError(dir, [code === 'ENOENT' ? `${META_FILE} is missing` : `${META_FILE} is unreadable (${firstLine(e)})`]);
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
  if (!exists) throw new Error(`${dir}: no such checkpoint directory`);
  // A training run's folder (runs/<name>) holds its checkpoints under checkpoints/step-N: name the newest.
  const steps = await fs.readdir(path.join(dir, 'checkpoints')).catch(() => [] as string[]);
  const newest = steps.filter((n) => /^step-\d+$/.test(n)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))).at(-1);
  throw new Error(
    newest
      ? `${dir}: a training run, not a checkpoint; point --checkpoint at one of its checkpoints, e.g. ${path.join(dir, 'checkpoints', newest)}`
      : `${dir}: not a checkpoint (no ${META_FILE}); point --checkpoint at a checkpoint directory`,
  );
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new Error(`${file}: unreadable (${firstLine(e)})`);
  }
}

/** Reads and checks meta.json and config.yaml of a checkpoint directory (no weights). */
export async function readCheckpoint(dir: string): Promise<{ dir: string; meta: CheckpointMeta; config: ModelConfig }> {
  const resolved = await resolveCheckpointDir(dir);
  await verifyCheckpoint(resolved);
  const metaPath = path.join(resolved, META_FILE);
  const meta = parseCheckpointMeta(await readBytes(metaPath), metaPath);
  const configPath = path.join(resolved, CONFIG_FILE);
  const config = parseCheckpointConfig(await readBytes(configPath), configPath);
  return { dir: resolved, meta, config };
}

/** Loads one network's checkpoint file into `model`: every weight must be present with its shape, nothing extra. */
export async function loadNetworkFile(file: string, network: NetworkName, model: tf.LayersModel): Promise<void> {
  loadNetworkWeights(await readSafetensors(file), network, model);
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

/**
 * Builds the networks a checkpoint directory holds (or the `only` subset) from its config.yaml and loads their
 * weights (checked against the seal first). The caller disposes them with `dispose()`.
 */
export async function loadCheckpointNetworks(dir: string, options: { only?: readonly NetworkName[] } = {}): Promise<LoadedCheckpoint> {
  const info = await readCheckpoint(dir);
  const built = await buildCheckpointNetworks(info.dir, info.meta, info.config, (n) => readSafetensors(path.join(info.dir, networkFile(n))), options.only);
  return { ...info, ...built };
}
