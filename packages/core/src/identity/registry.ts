import type { SafetensorsFile } from '../weights/safetensors.js';
import type { ModelFiles } from '../faces/model_files.js';
import { platform } from '../platform.js';
import { parseWeights } from '../weights/weights_file.js';
import { CentredIdentityEncoder } from './centred_encoder.js';
import { FACE_API_DESCRIPTOR_MEAN } from './descriptor_means.js';
import { loadFaceApiRecognition } from './face_api_recognition.js';
import { loadHumanFaceres } from './human_faceres.js';
import type { IdentityEncoder, IdentityEncoderName } from './identity_encoder.js';
import { createInsightFaceEncoder, INSIGHTFACE_ENCODER_NAMES, INSIGHTFACE_ENCODERS, insightFaceDim, isInsightFaceEncoder } from './insightface_encoder.js';
import type { EncoderInputAlignment } from './template_warp.js';
import { cropBoxIn } from './crop.js';
import { FACE_ALIGNMENTS, isFaceAlignment, type FaceAlignment } from '../faces/templates.js';
import { FACE_API_CROP } from './face_api_recognition.js';
import { FACERES_CROP } from './human_faceres.js';

type PackagedName = 'face-api-recognition' | 'face-api-recognition-centred' | 'human-faceres';

const PACKAGED: Record<PackagedName, { load: (files: ModelFiles | undefined, alignment: FaceAlignment) => Promise<IdentityEncoder>; dim: number }> = {
  'face-api-recognition': { load: (files, alignment) => loadFaceApiRecognition({ files, cropBox: cropBoxIn(FACE_API_CROP, alignment) }), dim: 128 },
  'face-api-recognition-centred': {
    load: async (files, alignment) => new CentredIdentityEncoder('face-api-recognition-centred', await loadFaceApiRecognition({ files, cropBox: cropBoxIn(FACE_API_CROP, alignment) }), FACE_API_DESCRIPTOR_MEAN),
    dim: 128,
  },
  'human-faceres': { load: (files, alignment) => loadHumanFaceres({ files, cropBox: cropBoxIn(FACERES_CROP, alignment) }), dim: 1024 },
};

/** The registered encoder names: the packaged ones (training encoders first), then those loaded from PyTorch weights. */
export const IDENTITY_ENCODERS: readonly IdentityEncoderName[] = ['face-api-recognition', 'face-api-recognition-centred', 'human-faceres', ...INSIGHTFACE_ENCODER_NAMES];

/** Whether the encoder's weights come from a file the user brings (`identity.weights`, `--weights`). */
export function identityEncoderNeedsWeights(name: IdentityEncoderName): boolean {
  return isInsightFaceEncoder(name);
}

/** z_id length of an encoder; null when its weights decide (the generic `arcface-ir-se` and `iresnet`). */
export function identityEncoderDim(name: IdentityEncoderName): number | null {
  return isInsightFaceEncoder(name) ? insightFaceDim(name) : PACKAGED[name].dim;
}

export interface LoadIdentityEncoderOptions {
  /**
   * The PyTorch weights of an InsightFace encoder: a `.pth` (torch.save) or safetensors file as bytes or parsed, or
   * a path (read by the host platform: Node's file system).
   */
  weights?: string | Uint8Array | SafetensorsFile;
  /** Where the packaged encoders' model files come from; default: the installed platform's (see platform.ts). */
  files?: ModelFiles;
  /** The state_dict's key inside a `.pth` checkpoint that holds several. */
  entry?: string;
  /**
   * What the encoder is given: crops in a named alignment (faces/templates.ts; default `ffhq`), the network's own
   * reference alignment (`native`, InsightFace encoders), or `aligned-112` crops (InsightFace encoders).
   */
  input?: EncoderInputAlignment;
  /** How the caller's user passes the weights, for the error when they are missing. Default `identity.weights (or --weights)`. */
  weightsOption?: string;
}

function unknown(name: string): Error {
  return new Error(`Unknown identity encoder '${name}': choose one of ${IDENTITY_ENCODERS.join(', ')}.`);
}

/**
 * Loads an identity encoder by name: the packaged ones from the installed packages' files (offline), the
 * InsightFace ones from the PyTorch weights in `options.weights`.
 */
export async function loadIdentityEncoder(name: IdentityEncoderName | string, options: LoadIdentityEncoderOptions = {}): Promise<IdentityEncoder> {
  if (isInsightFaceEncoder(name)) {
    if (options.weights === undefined) {
      throw new Error(`identity encoder '${name}' needs its weights: set ${options.weightsOption ?? 'identity.weights (or pass --weights)'} to ${INSIGHTFACE_ENCODERS[name].weightsHint}`);
    }
    const what = `weights of identity encoder ${name}`;
    let file: SafetensorsFile;
    if (typeof options.weights === 'string') {
      const read = platform().readWeightsFile;
      if (read === null) throw new Error(`identity encoder '${name}': cannot read ${options.weights} here (no file system); pass the weights file's bytes`);
      file = await read(options.weights, { what, entry: options.entry });
    } else if (options.weights instanceof Uint8Array) {
      file = parseWeights(options.weights, what, { entry: options.entry });
    } else {
      file = options.weights;
    }
    return createInsightFaceEncoder(name, file, { input: options.input });
  }
  const packaged = PACKAGED[name as PackagedName];
  if (!packaged) throw unknown(name);
  if (options.weights !== undefined) {
    throw new Error(`identity encoder '${name}' ships with its npm package and takes no weights file; remove identity.weights (--weights), or pick an InsightFace encoder (${INSIGHTFACE_ENCODER_NAMES.slice(0, 3).join(', ')}, ...)`);
  }
  const input = options.input ?? 'ffhq';
  if (!isFaceAlignment(input)) throw new Error(`identity encoder '${name}': takes face crops in a named alignment (${FACE_ALIGNMENTS.join(', ')}), not '${input}' input`);
  return packaged.load(options.files, input);
}
