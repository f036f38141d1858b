/** The file-system side of safetensors: read a file into {@link parseSafetensors}, write {@link encodeSafetensors}'s chunks atomically. */
import { readFile } from 'node:fs/promises';
import { encodeSafetensors, parseSafetensors, SafetensorsError, type SafetensorsFile, type SafetensorsTensor } from '../weights/safetensors.js';
import { writeFileAtomic, type FileChunks } from './atomic_fs.js';

/** Reads and validates a safetensors file (one read into one buffer; tensors are views of it). */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SafetensorsError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  return parseSafetensors(bytes, file);
}

/** Writes a safetensors file atomically (temporary file in the same directory, then rename). */
export async function writeSafetensors(
  file: string,
  tensors: Iterable<readonly [string, SafetensorsTensor]>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const chunks: FileChunks = encodeSafetensors(tensors, metadata, file);
  await writeFileAtomic(file, chunks);
}
