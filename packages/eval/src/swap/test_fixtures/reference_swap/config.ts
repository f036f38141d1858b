import type { ModelConfigInput } from '@faceshifter/core';

/**
 * The model of G_small.pth: the reference's AEI-Net (c_id 32, paired with the 32-d IR-SE of
 * packages/core/src/identity/test_fixtures/ir_se_small.pth) at the reference's 256², every width divided by 32.
 */
export const REFERENCE_SWAP_CONFIG: ModelConfigInput = { preset: 'paper', resolution: 256, widthMultiplier: 1 / 32, cId: 32 };
