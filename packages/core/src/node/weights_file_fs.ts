/** Reads a weights file from disk: safetensors or a PyTorch `.pth`, told apart by {@link parseWeights}. */
import { readFile } from 'node:fs/promises';
import { SafetensorsError, type SafetensorsFile } from '../weights/safetensors.js';
import { parseWeights, type ReadWeightsOptions } from '../weights/weights_file.js';

/** Reads a safetensors or .pth file; a missing file is a one-line error naming it and `what` it should be. */
export async function readWeightsFile(file: string, options: ReadWeightsOptions = {}): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what = options.what ? ` (${options.what})` : '';
    throw new SafetensorsError(code === 'ENOENT' ? `${file}: no such file${what}` : `${file}: cannot read${what} (${e instanceof Error ? e.message : String(e)})`);
  }
  return parseWeights(bytes, file, options);
}
