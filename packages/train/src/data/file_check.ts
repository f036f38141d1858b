/**
 * A cheap check of image files before training: the first and last bytes of each file, not a decode. It finds
 * missing and empty files, files that are not images (wrong magic number), and PNG and JPEG files cut short
 * (no IEND chunk, no end-of-image marker), which is most of what goes wrong in a large scraped dataset, before
 * step 1 rather than days into a run. A file whose tail looks wrong is decoded to confirm, since some writers
 * append data after a JPEG's end marker.
 */
import { decodeImage } from '@faceshifter/core/node';
import { promises as fs } from 'node:fs';

const HEAD = 16;
const TAIL = 64;

type Format = 'png' | 'jpeg' | 'webp' | 'bmp' | 'tiff' | 'avif';

function sniff(head: Uint8Array): Format | null {
  const at = (i: number, bytes: number[]): boolean => bytes.every((b, k) => head[i + k] === b);
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (at(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'webp';
  if (at(0, [0x42, 0x4d])) return 'bmp';
  if (at(0, [0x49, 0x49, 0x2a, 0x00]) || at(0, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (at(4, [0x66, 0x74, 0x79, 0x70])) return 'avif'; // ISO-BMFF (avif, heif)
  return null;
}

function contains(hay: Uint8Array, needle: number[]): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}

/** The problem with an image file as one short phrase, or null when it looks like a whole image. */
export async function checkImageFile(file: string): Promise<string | null> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'file not found' : `cannot open (${code ?? String(e)})`;
  }
  let tailSuspect: string | null = null;
  try {
    const { size } = await handle.stat();
    if (size === 0) return 'empty file';
    const head = new Uint8Array(HEAD);
    await handle.read(head, 0, Math.min(HEAD, size), 0);
    const format = sniff(head);
    if (format === null) return 'not an image (unknown format)';
    if (format === 'png' || format === 'jpeg') {
      const n = Math.min(TAIL, size);
      const tail = new Uint8Array(n);
      await handle.read(tail, 0, n, size - n);
      if (format === 'png' && !contains(tail, [0x49, 0x45, 0x4e, 0x44])) tailSuspect = 'truncated PNG (no IEND chunk)';
      if (format === 'jpeg' && !contains(tail, [0xff, 0xd9])) tailSuspect = 'truncated JPEG (no end-of-image marker)';
    }
  } catch (e) {
    return `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  } finally {
    await handle.close();
  }
  if (tailSuspect === null) return null;
  try {
    await decodeImage(file, { resize: 8 });
    return null;
  } catch {
    return tailSuspect;
  }
}

/** Checks files with bounded concurrency; returns the bad ones by index, with their problem, in index order. */
export async function checkImageFiles(files: readonly string[], concurrency = 32): Promise<Map<number, string>> {
  const bad = new Map<number, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      const problem = await checkImageFile(files[i]!);
      if (problem !== null) bad.set(i, problem);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  return new Map([...bad].sort((a, b) => a[0] - b[0]));
}
