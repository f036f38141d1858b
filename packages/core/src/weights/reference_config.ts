/**
 * The PyTorch reference's published files used as they are: which network a state_dict holds, and the model config
 * its shapes imply, so that `yarn swap --weights G_latest.pth --id-weights model_ir_se50.pth` (and the web app) need
 * no import step and no config. The reference's AEI-Net is fixed at 256² with c_id 512; a config is read from the
 * shapes all the same, so that smaller nets of the same architecture (tests, research variants) load too.
 *
 * Everything found is then checked by loading every tensor by name and shape (reference_mapping.ts), so a wrong
 * guess fails with the tensor that disagrees.
 */
import { resolveModelConfig, type ModelConfig, type ModelConfigInput } from '../config/model_config.js';
import { REFERENCE_FACE_INPUT, type FaceInput } from '../faces/face_input.js';
import type { AEINet } from '../models/aei_net.js';
import type { HEARNet } from '../models/hear_net.js';
import { buildNetwork } from './checkpoint.js';
import type { SafetensorsFile } from './safetensors.js';
import { detectReferenceNetwork, importReferenceTensors, type NetworkName } from './reference_mapping.js';

/** What a weights file holds, as far as its tensor names tell. */
export type WeightsKind = NetworkName | 'all' | 'identity' | 'unknown';

/** InsightFace recognition networks: InsightFace_Pytorch's Backbone (IR, IR-SE) and arcface_torch's iresnet. */
function looksLikeIdentityNetwork(names: readonly string[]): boolean {
  const has = (n: string): boolean => names.includes(n);
  return (has('input_layer.0.weight') && names.some((n) => n.startsWith('body.'))) || (has('conv1.weight') && has('fc.weight') && names.some((n) => n.startsWith('layer1.')));
}

export function weightsKind(file: SafetensorsFile): WeightsKind {
  const names = [...file.tensors.keys()];
  if (looksLikeIdentityNetwork(names)) return 'identity';
  return detectReferenceNetwork(names) ?? 'unknown';
}

const KIND_WORDS: Record<WeightsKind, string> = {
  aei: 'an AEI-Net generator (G_latest.pth)',
  hearnet: 'a HEAR-Net',
  discriminator: 'a discriminator (D_latest.pth)',
  all: 'a whole checkpoint (aei., hearnet., discriminator. prefixes)',
  identity: 'a face-recognition network (e.g. model_ir_se50.pth)',
  unknown: 'no network this project knows',
};

/** The keys every reference AEI-Net state_dict has, whatever its size; named when a file lacks them. */
const AEI_REQUIRED = ['encoder.conv1.0.weight', 'generator.up1.weight', 'generator.AADBlk1.AAD1.conv1.weight'];
const HEAR_REQUIRED = ['down1.0.weight', 'up5.weight'];

function shapeOf(file: SafetensorsFile, name: string): readonly number[] {
  return file.tensors.get(name)!.shape;
}

/**
 * Checks that `file` holds the network the option asks for, with a one-line error that says what it holds instead
 * (naming the missing keys) and which option takes that.
 */
export function expectReferenceNetwork(file: SafetensorsFile, want: 'aei' | 'hearnet', option: string, hints: Partial<Record<WeightsKind, string>> = {}): void {
  const required = want === 'aei' ? AEI_REQUIRED : HEAR_REQUIRED;
  const missing = required.filter((k) => !file.tensors.has(k));
  if (missing.length === 0) return;
  const kind = weightsKind(file);
  const hint = hints[kind] ?? `pass ${want === 'aei' ? "the reference's G_latest.pth" : "the reference's HEAR-Net weights"} as ${option}`;
  throw new Error(`${file.source}: not ${KIND_WORDS[want]}: it holds ${KIND_WORDS[kind]} (missing ${missing.join(', ')}); ${hint}`);
}

/**
 * The model config of a reference-layout AEI-Net state_dict: resolution from the number of encoder convs
 * (log2 R − 1), width from the first conv (32·w channels), c_id from the first ConvTranspose, and the AAD variant
 * from which tensors exist. The discriminator section is the preset's (a generator file says nothing about it).
 */
export function inferAEIConfig(file: SafetensorsFile, option = '--weights'): ModelConfig {
  expectReferenceNetwork(file, 'aei', option);
  const names = [...file.tensors.keys()];
  const downs = names.filter((n) => /^encoder\.conv\d+\.0\.weight$/.test(n)).length;
  const resolution = 2 ** (downs + 1);
  const widthMultiplier = shapeOf(file, 'encoder.conv1.0.weight')[0]! / 32;
  const cId = shapeOf(file, 'generator.up1.weight')[0]!;
  const aad = 'generator.AADBlk1.AAD1.conv1.weight';
  const gammaBetaKernel = shapeOf(file, aad)[2]!;
  if (gammaBetaKernel !== 1 && gammaBetaKernel !== 3) throw new Error(`${file.source}: ${aad} has a ${gammaBetaKernel}×${gammaBetaKernel} kernel; AAD takes 1×1 or 3×3`);
  const input: ModelConfigInput = {
    preset: 'paper',
    resolution,
    widthMultiplier,
    cId,
    attributes: file.tensors.has('encoder.deconv1.deconv.weight') ? 'multi' : 'single',
    aad: {
      mask: file.tensors.has('generator.AADBlk1.AAD1.conv_h.weight') ? 'learned' : file.tensors.has('generator.AADBlk1.AAD1.fc1.weight') ? 'constant' : 'none',
      gammaBetaKernel,
      norm: names.some((n) => /^generator\.AADBlk1\.AAD1\.norm\.running_mean$/.test(n)) ? 'batch' : 'instance',
    },
  };
  try {
    return resolveModelConfig(input, 'model');
  } catch (e) {
    throw new Error(`${file.source}: its shapes imply no valid model config (${e instanceof Error ? e.message : String(e)}); import it with yarn weights import --config <yaml>`);
  }
}

/** HEAR-Net's width from its first conv (64·w); its resolution is the AEI-Net's it refines (it is fully convolutional). */
export function inferHEARConfig(file: SafetensorsFile, aei: ModelConfig, option = '--hear-weights'): ModelConfig {
  expectReferenceNetwork(file, 'hearnet', option);
  const widthMultiplier = shapeOf(file, 'down1.0.weight')[0]! / 64;
  return resolveModelConfig({ ...aei, widthMultiplier }, 'model');
}

/**
 * The FaceInput of reference-layout weights: what a file of ours records in its metadata (`yarn weights export`
 * writes it), else the reference's own (its published .pth files carry no metadata).
 */
export function referenceFaceInput(file: SafetensorsFile): FaceInput {
  const align = file.metadata['faces.align'];
  const channels = file.metadata['faces.channels'];
  if ((align === 'ffhq' || align === 'reference' || align === 'insightface') && (channels === 'rgb' || channels === 'bgr')) return { align, channels };
  return REFERENCE_FACE_INPUT;
}

/** Where the hints of {@link loadReferenceAEI} point: the options of the caller (CLI flags, or the web app's fields). */
export interface ReferenceOptionNames {
  generator: string;
  identity: string;
  hear: string;
}

const CLI_NAMES: ReferenceOptionNames = { generator: '--weights', identity: '--id-weights', hear: '--hear-weights' };

/**
 * AEI-Net built from a reference-layout generator state_dict (the reference's G_latest.pth as torch.save wrote it,
 * or `yarn weights export`'s safetensors), with the config its shapes imply and the FaceInput it was trained on.
 * The caller disposes the network.
 */
export function loadReferenceAEI(file: SafetensorsFile, names: ReferenceOptionNames = CLI_NAMES): { aei: AEINet; config: ModelConfig; faces: FaceInput } {
  expectReferenceNetwork(file, 'aei', names.generator, {
    identity: `pass it as ${names.identity} and the generator (G_latest.pth) as ${names.generator}`,
    hearnet: `pass it as ${names.hear} and the generator (G_latest.pth) as ${names.generator}`,
    discriminator: `a swap needs the generator: pass G_latest.pth (not D_latest.pth) as ${names.generator}`,
  });
  const config = inferAEIConfig(file, names.generator);
  const aei = buildNetwork('aei', config) as AEINet;
  try {
    importReferenceTensors('aei', aei, file);
  } catch (e) {
    aei.dispose();
    throw e;
  }
  return { aei, config, faces: referenceFaceInput(file) };
}

/** HEAR-Net from a reference-layout state_dict, for the AEI-Net of `aei` config. The caller disposes it. */
export function loadReferenceHEAR(file: SafetensorsFile, aei: ModelConfig, names: ReferenceOptionNames = CLI_NAMES): HEARNet {
  expectReferenceNetwork(file, 'hearnet', names.hear, {
    aei: `it is a generator: pass it as ${names.generator}`,
    identity: `pass it as ${names.identity}`,
  });
  const hear = buildNetwork('hearnet', inferHEARConfig(file, aei, names.hear)) as HEARNet;
  try {
    importReferenceTensors('hearnet', hear, file);
  } catch (e) {
    hear.dispose();
    throw e;
  }
  return hear;
}

/**
 * Checks that an identity network's weights are not a FaceShifter network given in its place (the two files of a
 * swap are easily swapped), with the option each belongs to.
 */
export function expectIdentityWeights(file: SafetensorsFile, names: ReferenceOptionNames = CLI_NAMES): void {
  const kind = weightsKind(file);
  if (kind === 'identity' || kind === 'unknown') return;
  const where = kind === 'aei' ? names.generator : kind === 'hearnet' ? names.hear : null;
  throw new Error(`${file.source}: is ${KIND_WORDS[kind]}, not a face-recognition network; ${where ? `pass it as ${where} and the identity network (model_ir_se50.pth) as ${names.identity}` : `pass the identity network (model_ir_se50.pth) as ${names.identity}`}`);
}
