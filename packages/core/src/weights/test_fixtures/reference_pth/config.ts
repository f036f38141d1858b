import type { ModelConfigInput } from '../../../config/model_config.js';

/** The model config of G_tiny.pth / D_tiny.pth (the reference's G_latest.pth / D_latest.pth, made small). */
export const REFERENCE_PTH_CONFIG: ModelConfigInput = { preset: 'tiny', resolution: 32, widthMultiplier: 0.0625, cId: 16, discriminator: { numD: 2, nLayers: 2, baseChannels: 4 } };
