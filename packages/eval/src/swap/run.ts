import type * as tf from '@tensorflow/tfjs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkLandmarksInside, IMAGE_EXTENSIONS } from '@faceshifter/core/node';
import { checkPngPath, swapMark, writeSwapPng } from './mark.js';
import { readLandmarksFile } from './landmarks.js';
import { FaceSwapper, readPhoto, type AnalysedPhoto, type FaceSelection, type FaceSwapperOptions } from './swapper.js';

/**
 * What `yarn swap` does, as a function: one swap, or a batch. Three ways to name the work:
 *
 * - one pair: `source` + `target` + `out`;
 * - one source onto every photo of a folder: `source` + `targetDir` + `outDir` (out: `<outDir>/<target name>.png`);
 * - a list of pairs: `pairs` (a CSV of `source,target[,out]` lines, paths relative to the CSV's folder, an optional
 *   `source,target` header) + `outDir` (default out: `<outDir>/<target name>__<source name>.png`).
 *
 * In a batch a photo that fails (no face, several faces without `faceIndex`, unreadable) is reported and skipped,
 * the others are still swapped; {@link runSwap} throws at the end if any failed.
 */
export interface SwapCommandOptions extends FaceSwapperOptions {
  source?: string;
  target?: string;
  out?: string;
  targetDir?: string;
  pairs?: string;
  outDir?: string;
  /** Target face(s) to swap, numbered left to right; required when a target has several faces. */
  faceIndex?: FaceSelection;
  /** Source face to take the identity from, numbered left to right; default: the largest. */
  sourceFaceIndex?: number;
  /** One pair only: a JSON file of the faces' five landmarks (swap/landmarks.ts), used instead of detection. */
  landmarks?: string;
}

export interface SwapJob {
  source: string;
  target: string;
  out: string;
}

export interface SwapReport {
  done: { job: SwapJob; faces: number[]; ms: number }[];
  failed: { job: SwapJob; error: string }[];
}

function stem(file: string): string {
  return path.parse(file).name;
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/** The jobs the options describe; errors name the option and the fix. */
export async function planSwapJobs(o: SwapCommandOptions): Promise<SwapJob[]> {
  const modes = [o.target !== undefined, o.targetDir !== undefined, o.pairs !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new Error('name the work with exactly one of --target (one photo), --target-dir (a folder) or --pairs (a CSV of source,target lines)');
  if (o.target !== undefined) {
    if (o.source === undefined) throw new Error('--target needs --source: the photo whose identity is put into the target');
    if (o.out === undefined) throw new Error('--target needs --out: the PNG file to write, e.g. --out swap.png');
    if (o.outDir !== undefined) throw new Error('--out-dir is for --target-dir and --pairs; with --target use --out');
    checkPngPath(o.out);
    return [{ source: o.source, target: o.target, out: o.out }];
  }
  if (o.outDir === undefined) throw new Error(`${o.targetDir !== undefined ? '--target-dir' : '--pairs'} needs --out-dir: the folder to write the swapped PNGs to`);
  if (o.out !== undefined) throw new Error('--out is for one --target; with --target-dir or --pairs use --out-dir');
  const outDir = o.outDir;
  if (o.targetDir !== undefined) {
    if (o.source === undefined) throw new Error('--target-dir needs --source: the photo whose identity is put into every target');
    if (!(await isDirectory(o.targetDir))) throw new Error(`${o.targetDir}: no such folder (--target-dir); check the path`);
    const names = (await readdir(o.targetDir)).filter((n) => IMAGE_EXTENSIONS.includes(path.extname(n).toLowerCase()) && !n.startsWith('.')).sort();
    if (names.length === 0) throw new Error(`${o.targetDir}: no photos (${IMAGE_EXTENSIONS.join(' ')}) in --target-dir`);
    const source = o.source;
    return names.map((n) => ({ source, target: path.join(o.targetDir!, n), out: path.join(outDir, `${stem(n)}.png`) }));
  }
  if (o.source !== undefined) throw new Error('--pairs names the sources itself; leave out --source');
  const csv = o.pairs!;
  let text: string;
  try {
    text = await readFile(csv, 'utf8');
  } catch {
    throw new Error(`${csv}: no such file (--pairs); check the path`);
  }
  const base = path.dirname(csv);
  const jobs: SwapJob[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const cells = line.split(',').map((c) => c.trim());
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    if (i === 0 && cells[0]?.toLowerCase() === 'source' && cells[1]?.toLowerCase() === 'target') return;
    if (cells.length < 2 || cells.length > 3 || !cells[0] || !cells[1]) {
      throw new Error(`${csv}:${i + 1}: expected "source,target" or "source,target,out", got ${JSON.stringify(line)}`);
    }
    const [s, t, out] = cells as [string, string, string | undefined];
    const outFile = out ? path.join(outDir, out) : path.join(outDir, `${stem(t)}__${stem(s)}.png`);
    if (out) checkPngPath(outFile, `${csv}:${i + 1}: out`);
    jobs.push({ source: path.resolve(base, s), target: path.resolve(base, t), out: outFile });
  });
  if (jobs.length === 0) throw new Error(`${csv}: no pairs; write one "source,target" line per swap`);
  return jobs;
}

/**
 * Runs the swaps the options describe with `swapper` (loaded from the options when not given, and disposed after).
 * One job: its error is thrown as is. Several: each failure is logged and the run goes on; throws at the end if any failed.
 */
export async function runSwap(o: SwapCommandOptions, swapper?: FaceSwapper): Promise<SwapReport> {
  const log = o.log ?? (() => {});
  const jobs = await planSwapJobs(o);
  const single = o.target !== undefined;
  if (o.landmarks !== undefined && !single) throw new Error('--landmarks gives the points of one pair: use it with --source and --target');
  const given = o.landmarks === undefined ? null : await readLandmarksFile(o.landmarks);
  // One pair: read both photos before the (slow) model load, so a wrong path fails at once.
  const early = single ? { source: await readPhoto(jobs[0]!.source, 'source'), target: await readPhoto(jobs[0]!.target, 'target') } : null;
  if (given && early) {
    checkLandmarksInside(jobs[0]!.source, early.source, given.source);
    checkLandmarksInside(jobs[0]!.target, early.target, given.target);
  }
  const own = swapper === undefined;
  const s = swapper ?? (await FaceSwapper.load(o));
  const identities = new Map<string, tf.Tensor2D>();
  const report: SwapReport = { done: [], failed: [] };
  try {
    for (const [k, job] of jobs.entries()) {
      const t0 = performance.now();
      try {
        let zId = identities.get(job.source);
        if (!zId) {
          const photo = early?.source ?? (await readPhoto(job.source, 'source'));
          const analysed: AnalysedPhoto = given ? s.pipeline.withLandmarks(job.source, photo, given.source) : await s.analyse(job.source, photo);
          zId = s.sourceIdentity(analysed, o.sourceFaceIndex);
          identities.set(job.source, zId);
        }
        const targetPhoto = early?.target ?? (await readPhoto(job.target, 'target'));
        const target = given ? s.pipeline.withLandmarks(job.target, targetPhoto, given.target) : await s.analyse(job.target, targetPhoto);
        const result = await s.swap(zId, target, o.faceIndex);
        const mark = swapMark({ checkpoint: s.checkpointDir, hear: s.hearDir, source: job.source, target: job.target, faces: result.swapped });
        await writeSwapPng(job.out, result.image, mark);
        const ms = performance.now() - t0;
        report.done.push({ job, faces: result.swapped, ms });
        log(`[swap] ${jobs.length > 1 ? `${k + 1}/${jobs.length} ` : ''}${job.out} (${result.swapped.length} face${result.swapped.length > 1 ? 's' : ''}, ${(ms / 1000).toFixed(2)} s)`);
      } catch (e) {
        if (single) throw e;
        const error = e instanceof Error ? e.message : String(e);
        report.failed.push({ job, error });
        log(`[swap] skipped: ${error}`);
      }
    }
  } finally {
    for (const z of identities.values()) z.dispose();
    if (own) s.dispose();
  }
  if (report.failed.length > 0) {
    throw new Error(`${report.failed.length} of ${jobs.length} swaps failed (each is listed above); ${report.done.length} written to ${o.outDir}`);
  }
  return report;
}
