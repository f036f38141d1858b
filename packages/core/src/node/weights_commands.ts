/**
 * What `yarn weights export|import|inspect` do, as functions (the CLI in cli/weights.ts only parses arguments).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadModelConfig } from './config_files.js';
import { type ModelConfig } from '../config/model_config.js';
import { buildNetwork, type CheckpointMeta, type CheckpointNetworks } from '../weights/checkpoint.js';
import { loadCheckpointNetworks, saveCheckpoint } from './checkpoint_fs.js';
import { detectReferenceNetwork, exportReferenceTensors, importReferenceTensors, NETWORK_NAMES, type NetworkName } from '../weights/reference_mapping.js';
import { writeSafetensors } from './safetensors_fs.js';
import { type SafetensorsFile, type SafetensorsTensor } from '../weights/safetensors.js';
import { readWeightsFile } from './weights_file_fs.js';
import { checkpointFaceInput } from '../weights/checkpoint.js';
import { inferAEIConfig, referenceFaceInput } from '../weights/reference_config.js';
import type { ChannelOrder, FaceInput } from '../faces/face_input.js';
import type { FaceAlignment } from '../faces/templates.js';

/** Metadata key naming the network(s) of a reference-layout file written by this tool. */
const NETWORK_KEY = 'faceshifter-ts.network';

export interface ExportOptions {
  checkpoint: string;
  out: string;
  /** One network, or `all` for every network the checkpoint holds, in one file with `<network>.` name prefixes. */
  network: NetworkName | 'all';
}

export interface ExportResult {
  networks: NetworkName[];
  tensors: number;
  bytes: number;
}

/**
 * Writes a checkpoint's weights as the PyTorch reference's state_dict(s) to one safetensors file. For a single
 * network the names are exactly the reference's (load with `net.load_state_dict(safetensors.torch.load_file(f))`);
 * with `all` each name is prefixed by its network (`aei.encoder.conv1.0.weight`, `hearnet.down1.0.weight`, ...).
 */
export async function exportWeights(options: ExportOptions): Promise<ExportResult> {
  const loaded = await loadCheckpointNetworks(options.checkpoint, {
    only: options.network === 'all' ? undefined : [options.network],
  });
  try {
    const networks = NETWORK_NAMES.filter((n) => loaded.networks[n]);
    const tensors: [string, SafetensorsTensor][] = [];
    for (const n of networks) {
      const prefix = options.network === 'all' ? `${n}.` : '';
      tensors.push(...(await exportReferenceTensors(n, loaded.networks[n]!, { prefix })));
    }
    const metadata: Record<string, string> = {
      format: 'pt',
      [NETWORK_KEY]: options.network === 'all' ? networks.join(',') : options.network,
      'faceshifter-ts.layout': 'pytorch-reference',
      'faceshifter-ts.source': path.resolve(loaded.dir),
      // Read back by `weights import` and `swap --weights`: what the weights expect (faces/face_input.ts).
      'faces.align': checkpointFaceInput(loaded.meta).align,
      'faces.channels': checkpointFaceInput(loaded.meta).channels,
    };
    if (loaded.meta.step !== null) metadata['faceshifter-ts.step'] = String(loaded.meta.step);
    await writeSafetensors(options.out, tensors, metadata);
    const bytes = (await fs.stat(options.out)).size;
    return { networks, tensors: tensors.length, bytes };
  } finally {
    loaded.dispose();
  }
}

/** Which networks a reference-layout file holds, and the name prefix of each. */
function networksOf(file: SafetensorsFile, requested: NetworkName | 'all' | 'auto'): { network: NetworkName; prefix: string }[] {
  const names = [...file.tensors.keys()];
  let kind: NetworkName | 'all' | null = requested === 'auto' ? null : requested;
  if (kind === null) {
    const tagged = file.metadata[NETWORK_KEY];
    if (tagged) kind = tagged.includes(',') ? 'all' : (tagged as NetworkName);
  }
  kind ??= detectReferenceNetwork(names);
  if (kind === null) {
    throw new Error(
      `${file.source}: cannot tell which network the tensors belong to (first names: ${names.slice(0, 3).join(', ')}); ` +
        'pass --network aei|hearnet|discriminator|all',
    );
  }
  if (kind !== 'all') return [{ network: kind, prefix: '' }];
  const present = NETWORK_NAMES.filter((n) => names.some((k) => k.startsWith(`${n}.`)));
  const stray = names.filter((k) => !NETWORK_NAMES.some((n) => k.startsWith(`${n}.`)));
  if (stray.length > 0) {
    throw new Error(`${file.source}: ${stray.length} tensor(s) without a network prefix (aei., hearnet., discriminator.): ${stray.slice(0, 5).join(', ')}`);
  }
  return present.map((n) => ({ network: n, prefix: `${n}.` }));
}

export interface ImportOptions {
  /**
   * Reference-layout weights: safetensors files, or the reference's own `.pth` files as torch.save wrote them
   * (e.g. `G_latest.pth` for AEI-Net and `D_latest.pth` for the discriminator).
   */
  inputs: string[];
  /** For `.pth` checkpoints holding several state_dicts: the key of the one to read (e.g. `G`). */
  entry?: string;
  /**
   * A YAML config file with a `model:` section, or a resolved config; default: the config the AEI-Net file's shapes
   * imply (weights/reference_config.ts), for files that hold an AEI-Net.
   */
  config?: string | ModelConfig;
  /** The alignment the weights were trained on; default: the file's metadata, else the reference's (`reference`). */
  align?: FaceAlignment;
  /** Their channel order; default: the file's metadata, else the reference's (`bgr`: cv2.imread, never converted). */
  channels?: ChannelOrder;
  /** The checkpoint directory to write. */
  out: string;
  /** Which network each input holds; `auto` reads it from the metadata or the tensor names. */
  network?: NetworkName | 'all' | 'auto';
}

/**
 * Builds the networks of a config, loads reference-layout weights into them (every tensor checked by name and
 * shape), and writes a checkpoint of the networks found in the inputs.
 */
export async function importWeights(options: ImportOptions): Promise<CheckpointMeta> {
  const networks: CheckpointNetworks = {};
  const sources: Record<string, string> = {};
  try {
    const files = await Promise.all(options.inputs.map((input) => readWeightsFile(input, { entry: options.entry })));
    const config = typeof options.config === 'string' ? loadModelConfig(options.config) : options.config ?? impliedConfig(files, options.network ?? 'auto');
    const recorded = referenceFaceInput(files[0]!);
    const faces: FaceInput = { align: options.align ?? recorded.align, channels: options.channels ?? recorded.channels };
    for (const [k, input] of options.inputs.entries()) {
      const file = files[k]!;
      for (const { network, prefix } of networksOf(file, options.network ?? 'auto')) {
        if (networks[network]) throw new Error(`${input}: ${network} weights were already read from ${sources[network]}`);
        networks[network] = buildNetwork(network, config);
        importReferenceTensors(network, networks[network]!, file, { prefix });
        sources[network] = input;
      }
    }
    return await saveCheckpoint(options.out, {
      config,
      networks,
      faces,
      step: null,
      extra: { importedFrom: Object.fromEntries(Object.entries(sources).map(([n, f]) => [n, path.resolve(f)])) },
    });
  } finally {
    for (const n of NETWORK_NAMES) networks[n]?.dispose();
  }
}

/** The model config an AEI-Net input's shapes imply, for imports without --config. */
function impliedConfig(files: readonly SafetensorsFile[], network: NetworkName | 'all' | 'auto'): ModelConfig {
  for (const file of files) {
    const parts = networksOf(file, network);
    if (parts.some((p) => p.network === 'aei' && p.prefix === '')) return inferAEIConfig(file, '--in');
  }
  throw new Error('without --config the model config is read from the AEI-Net file (G_latest.pth); pass it as one --in, or give --config <yaml>');
}

/** One line per tensor of a safetensors or .pth file: name, dtype, shape (for `yarn weights inspect`). */
export async function inspectWeights(file: string, options: { entry?: string } = {}): Promise<string[]> {
  const st = await readWeightsFile(file, options);
  const lines = Object.entries(st.metadata).map(([k, v]) => `# ${k}: ${v}`);
  for (const e of st.tensors.values()) lines.push(`${e.name}\t${e.dtype}\t${e.shape.length ? e.shape.join('x') : 'scalar'}`);
  return lines;
}
