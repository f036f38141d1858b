/**
 * Reads a weights file from disk in whichever format it is: safetensors, or a PyTorch `.pth`/`.pt` written by
 * torch.save (zip or legacy; see pth.ts). The format is told from the bytes, not the extension. This is the file
 * system adapter; the parsers work on bytes.
 */
import { readFile } from 'node:fs/promises';
import { isPth, parsePth, type ParsePthOptions } from './pth.js';
import { parseSafetensors, SafetensorsError, type SafetensorsFile } from './safetensors.js';

export interface ReadWeightsOptions extends ParsePthOptions {
  /** Names the file in errors (default: the path). */
  what?: string;
}

/** Parses weights bytes: safetensors or torch.save. */
export function parseWeights(bytes: Uint8Array, source: string, options: ReadWeightsOptions = {}): SafetensorsFile {
  if (isPth(bytes)) return parsePth(bytes, source, options);
  if (options.entry) throw new SafetensorsError(`${source}: --entry applies to .pth checkpoints; this is a safetensors file`);
  return parseSafetensors(bytes, source);
}

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
