/**
 * Parses a weights file in whichever format it is: safetensors, or a PyTorch `.pth`/`.pt` written by
 * torch.save (zip or legacy; see pth.ts). The format is told from the bytes, not the extension. Bytes only: the
 * file-system side is node/weights_file_fs.ts.
 */
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
