/**
 * Crash-safe writes: a file or a whole directory appears under its final name complete, or not at all.
 *
 * Both follow the same recipe: write everything under a temporary name in the same directory (so the final
 * rename never crosses a file system), fsync it, then rename. Directory renames cannot replace a non-empty
 * directory, so an existing one is first renamed aside and deleted only after the new one is in place; a crash
 * between those two renames leaves both the old and the new copy complete on disk, and
 * {@link findInterruptedDirectory} finds them.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { chargeWrite, crashPoint, writeFaultError } from './failpoints.js';

/** Bytes to write: one buffer, or several written back to back without concatenating them in memory. */
export type FileChunks = Uint8Array | string | readonly (Uint8Array | string)[];

/** Name of the marker file written last into a directory staged by {@link writeDirectoryAtomic}. */
export const COMPLETE_MARKER = '.complete';

function uniqueSuffix(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Writes chunks to an open path and fsyncs it, so that a later rename publishes durable bytes. */
async function writeAndSync(file: string, chunks: FileChunks): Promise<void> {
  const list = typeof chunks === 'string' || chunks instanceof Uint8Array ? [chunks] : chunks;
  const handle = await fs.open(file, 'w');
  try {
    for (const chunk of list) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      // A fault-injecting test may allow only part of the bytes, as a disk that fills up mid-write does.
      const allowed = chargeWrite(file, bytes.byteLength);
      let written = 0;
      // fs.write may write less than asked for very large buffers; loop until all bytes are out.
      while (written < allowed) {
        const { bytesWritten } = await handle.write(bytes, written, allowed - written);
        written += bytesWritten;
      }
      if (allowed < bytes.byteLength) throw writeFaultError(file);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a completed rename durable; some file systems refuse to fsync a directory, which is harmless. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here (e.g. some network or Windows file systems): the rename itself is still atomic.
  } finally {
    await handle?.close();
  }
}

/** Writes `file` atomically: a temporary file in the same directory, fsync, rename over the target. */
export async function writeFileAtomic(file: string, chunks: FileChunks): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${uniqueSuffix()}`);
  try {
    await writeAndSync(tmp, chunks);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await syncDirectory(dir);
}

/** Writes a file inside a directory being staged by {@link writeDirectoryAtomic} (no per-file rename needed). */
export async function writeStagedFile(file: string, chunks: FileChunks): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeAndSync(file, chunks);
}

/**
 * Creates or replaces the directory `dir` atomically. `fill` receives an empty staging directory next to `dir`
 * and writes the content there (with {@link writeStagedFile}); only when it resolves is the staging directory
 * marked complete and renamed to `dir`. If `fill` throws, the staging directory is removed and `dir` is untouched.
 */
export async function writeDirectoryAtomic(dir: string, fill: (stagingDir: string) => Promise<void>): Promise<void> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const suffix = uniqueSuffix();
  const staging = `${target}.tmp-${suffix}`;
  await fs.mkdir(staging);
  try {
    await fill(staging);
    await writeStagedFile(path.join(staging, COMPLETE_MARKER), new Date().toISOString() + '\n');
    await syncDirectory(staging);
    crashPoint('checkpoint-staged');
  } catch (e) {
    await fs.rm(staging, { recursive: true, force: true });
    throw e;
  }
  const aside = `${target}.old-${suffix}`;
  let movedAside = false;
  try {
    await fs.rename(target, aside);
    movedAside = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      await fs.rm(staging, { recursive: true, force: true });
      throw e;
    }
  }
  crashPoint('checkpoint-aside');
  await fs.rename(staging, target);
  await syncDirectory(parent);
  if (movedAside) await fs.rm(aside, { recursive: true, force: true });
}

/** Staging (`.tmp-`) and set-aside (`.old-`) siblings of `dir` left behind by an interrupted save. */
export interface InterruptedDirectories {
  /** Complete staged copies (newest first): the save finished writing but did not get renamed into place. */
  complete: string[];
  /** Previous copies renamed aside (newest first); they were complete when moved. */
  previous: string[];
  /** Staged copies that never finished writing: garbage. */
  incomplete: string[];
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function byNewest(dirs: string[]): Promise<string[]> {
  const stamped = await Promise.all(dirs.map(async (d) => ({ d, t: (await fs.stat(d)).mtimeMs })));
  return stamped.sort((a, b) => b.t - a.t).map((s) => s.d);
}

/** Lists what an interrupted {@link writeDirectoryAtomic} of `dir` left next to it. */
export async function findInterruptedDirectories(dir: string): Promise<InterruptedDirectories> {
  const target = path.resolve(dir);
  const parent = path.dirname(target);
  const base = path.basename(target);
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch {
    return { complete: [], previous: [], incomplete: [] };
  }
  const complete: string[] = [];
  const incomplete: string[] = [];
  const previous: string[] = [];
  for (const name of names) {
    const full = path.join(parent, name);
    if (name.startsWith(`${base}.tmp-`)) {
      ((await exists(path.join(full, COMPLETE_MARKER))) ? complete : incomplete).push(full);
    } else if (name.startsWith(`${base}.old-`)) {
      previous.push(full);
    }
  }
  return { complete: await byNewest(complete), previous: await byNewest(previous), incomplete };
}
