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

/**
 * Whether the bytes start like safetensors: an 8-byte little-endian header length that fits the file, then '{'.
 * Checked before the pickle signature, since a header length's low byte can be 0x80 (pickle's PROTO opcode).
 */
function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 10 || bytes[8] !== 0x7b) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  return n <= BigInt(bytes.byteLength - 8);
}

/** Parses weights bytes: safetensors or torch.save, told apart by their first bytes. */
export function parseWeights(bytes: Uint8Array, source: string, options: ReadWeightsOptions = {}): SafetensorsFile {
  if (looksLikeSafetensors(bytes)) {
    if (options.entry) throw new SafetensorsError(`${source}: --entry applies to .pth checkpoints; this is a safetensors file`);
    return parseSafetensors(bytes, source);
  }
  if (isPth(bytes)) return parsePth(bytes, source, options);
  throw new SafetensorsError(`${source}: neither a safetensors file nor a PyTorch file written by torch.save (zip or legacy pickle)`);
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
