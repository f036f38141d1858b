import { readFile } from 'node:fs/promises';
import { readPngText } from '@faceshifter/core/node';
import { probeVideo } from './ffmpeg.js';

/**
 * `yarn swap --inspect <file>`: the synthetic mark of a swapped image (PNG tEXt chunks) or video (MP4 metadata), so
 * anyone can check what made a file. A file without the mark says so.
 */
export async function inspectMark(file: string): Promise<Record<string, string>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new Error(`${file}: no such file (--inspect); check the path`);
  }
  const isPng = bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const tags = isPng ? readPngText(bytes) : probeVideo(file).tags;
  const marked = Object.fromEntries(Object.entries(tags).filter(([k]) => k.startsWith('faceshifter:') || ['Software', 'Comment', 'comment', 'encoded_by', 'Creation Time'].includes(k)));
  if (marked['faceshifter:synthetic'] !== 'true') throw new Error(`${file}: carries no faceshifter synthetic mark (it was not written by yarn swap or the web app, or its metadata was stripped)`);
  return marked;
}
