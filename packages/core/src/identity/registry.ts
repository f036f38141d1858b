import { CentredIdentityEncoder } from './centred_encoder.js';
import { FACE_API_DESCRIPTOR_MEAN } from './descriptor_means.js';
import { loadFaceApiRecognition } from './face_api_recognition.js';
import { loadHumanFaceres } from './human_faceres.js';
import type { IdentityEncoder, IdentityEncoderName } from './identity_encoder.js';

const LOADERS: Record<IdentityEncoderName, () => Promise<IdentityEncoder>> = {
  'face-api-recognition': loadFaceApiRecognition,
  'face-api-recognition-centred': async () => new CentredIdentityEncoder('face-api-recognition-centred', await loadFaceApiRecognition(), FACE_API_DESCRIPTOR_MEAN),
  'human-faceres': loadHumanFaceres,
};

/** The registered encoder names, training encoders first. */
export const IDENTITY_ENCODERS: readonly IdentityEncoderName[] = ['face-api-recognition', 'face-api-recognition-centred', 'human-faceres'];

/** Loads an identity encoder by name from the installed packages' files (offline). */
export async function loadIdentityEncoder(name: IdentityEncoderName | string): Promise<IdentityEncoder> {
  const load = LOADERS[name as IdentityEncoderName];
  if (!load) throw new Error(`Unknown identity encoder '${name}': choose one of ${IDENTITY_ENCODERS.join(', ')}.`);
  return load();
}
