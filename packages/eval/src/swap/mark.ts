import path from 'node:path';
import { CORE_VERSION, encodePng, writeFileAtomic, type RawImage } from '@faceshifter/core/node';

/** Writing swapped images to disk, with the synthetic-content mark (core's swapMark) in PNG tEXt chunks. */

/** The tool version written into the mark (all packages of this repository share one version). */
export function toolVersion(): string {
  return CORE_VERSION;
}

/** Rejects an output path that is not .png, naming the fix (the mark needs PNG tEXt chunks). */
export function checkPngPath(file: string, option = '--out'): void {
  if (path.extname(file).toLowerCase() !== '.png') {
    throw new Error(`${option} ${file}: swapped images are written as PNG only (they carry the synthetic mark in PNG tEXt chunks); use a .png file name, e.g. ${path.join(path.dirname(file), path.parse(file).name + '.png')}`);
  }
}

/** Writes a swapped image as PNG with its synthetic mark, atomically. */
export async function writeSwapPng(file: string, image: RawImage, mark: Record<string, string>): Promise<void> {
  checkPngPath(file);
  await writeFileAtomic(file, encodePng(image, mark));
}
export { swapMark } from '@faceshifter/core/node';
export type { SwapMarkInfo } from '@faceshifter/core/node';
