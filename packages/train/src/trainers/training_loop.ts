import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { COMPLETE_MARKER, CorruptCheckpointError, encodePng, sealCheckpoint, verifyCheckpoint, writeDirectoryAtomic, writeFileAtomic, writeStagedFile, type RawImage } from '@faceshifter/core/node';
import { MetricsCsv } from '../logging/metrics_csv.js';
import { ProgressBar } from '../logging/progress.js';
import { TensorBoardWriter, truncateEventFiles } from '../logging/tensorboard.js';

/**
 * What a trainer (AEI, HEAR) gives the loop. The loop owns everything around the step, once: progress, logging,
 * sample grids, checkpoints and their rotation, resume, Ctrl-C, and the stop on a non-finite loss — in the spirit
 * of PyTorch Lightning, so that a trainer is its step and its state.
 */
export interface TrainingTask {
  /** Runs optimisation step `step` (0-based) and returns its scalars under TensorBoard tags, e.g. 'loss/id'. */
  trainStep(step: number): Promise<Record<string, number>>;
  /** Writes all state needed to continue exactly (weights, optimiser moments, data order and RNG) into `dir`. */
  saveState(dir: string): Promise<void>;
  /** Restores what {@link saveState} wrote. */
  loadState(dir: string): Promise<void>;
  /** A grid of sample images (e.g. source | target | swap), logged every `sampleEvery` steps. */
  sampleGrid?(): Promise<RawImage>;
  /** Scalars that are not losses, logged with them (e.g. the learning rate). */
  extraScalars?(): Record<string, number>;
}

export interface TrainingLoopOptions {
  runDir: string;
  /** Total optimisation steps of the run; a resumed run continues up to the same number. */
  steps: number;
  logEvery: number;
  sampleEvery: number;
  checkpointEvery: number;
  /** How many of the newest checkpoints to keep (the best one is kept as well). */
  keepLast: number;
  /** The scalar whose mean over a checkpoint interval picks the best checkpoint (lower is better). */
  monitor: string;
  /** Continue from the newest checkpoint in `runDir`. */
  resume: boolean;
  /** Shown before the progress bar. */
  label?: string;
  /** Overrides progress output (tests). */
  progressStream?: NodeJS.WriteStream;
  /** Stops after this many steps of this invocation, as if interrupted (tests; "preemption"). */
  stopAfter?: number;
  /** Markdown texts logged to TensorBoard where this invocation starts (e.g. the resolved config). */
  texts?: Record<string, string>;
  /** Where notices go (a corrupted checkpoint skipped on resume, ...); default stderr. */
  log?: (line: string) => void;
}

export type TrainingOutcome = 'completed' | 'interrupted';
export interface TrainingResult {
  outcome: TrainingOutcome;
  /** Steps completed in total, this invocation and earlier ones. */
  step: number;
  /** First and last logged value of every scalar in this invocation. */
  first: Record<string, number>;
  last: Record<string, number>;
  lastCheckpoint: string | null;
  wallMs: number;
}

/** Thrown when a loss becomes NaN or infinite; names the loss, the step and the checkpoint to resume from. */
export class NonFiniteLossError extends Error {
  constructor(readonly tag: string, readonly value: number, readonly step: number, readonly lastCheckpoint: string | null) {
    super(
      `${tag} is ${value} at step ${step}; training stopped. ` +
        (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint} (continue with --resume after lowering train.lr or the loss weights).` : 'No checkpoint was written yet: lower train.lr or the loss weights and start again.'),
    );
    this.name = 'NonFiniteLossError';
  }
}

/** A checkpoint could not be written (a full disk, an I/O error); the previous one is intact. */
export class CheckpointWriteError extends Error {
  constructor(readonly step: number, override readonly cause: unknown, readonly lastCheckpoint: string | null, runDir: string) {
    super(
      `could not write the checkpoint of step ${step} (${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}); training stopped. ` +
        (lastCheckpoint
          ? `The previous checkpoint ${lastCheckpoint} is intact: free space (or fix the disk), then continue with --resume ${runDir}.`
          : 'No checkpoint was written before: free space (or fix the disk) and start again.'),
    );
    this.name = 'CheckpointWriteError';
  }
}

const CHECKPOINTS = 'checkpoints';
const STATE_FILE = 'loop_state.json';

interface LoopState {
  step: number;
  best: { step: number; value: number } | null;
}

const checkpointName = (step: number): string => `step-${String(step).padStart(8, '0')}`;

/** Checkpoint directories of a run, oldest first. Staging leftovers of an interrupted write are ignored. */
export async function listCheckpoints(runDir: string): Promise<{ step: number; dir: string }[]> {
  const root = path.join(runDir, CHECKPOINTS);
  let names: string[] = [];
  try {
    names = await fs.readdir(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^step-\d{8}$/.test(n))
    .map((n) => ({ step: Number(n.slice(5)), dir: path.join(root, n) }))
    .sort((a, b) => a.step - b.step);
}

/** Runs `task` from its current state (or the newest checkpoint, with `resume`) until `steps`, or Ctrl-C. */
export async function runTrainingLoop(task: TrainingTask, options: TrainingLoopOptions): Promise<TrainingResult> {
  const started = performance.now();
  await fs.mkdir(path.join(options.runDir, 'samples'), { recursive: true });
  let state: LoopState = { step: 0, best: null };
  let lastCheckpoint: string | null = null;
  const metrics = new MetricsCsv(path.join(options.runDir, 'metrics.csv'));

  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  if (options.resume) {
    await recoverInterruptedSaves(path.join(options.runDir, CHECKPOINTS), log);
    const restored = await restoreNewestIntact(task, options.runDir, log);
    state = restored.state;
    lastCheckpoint = restored.dir;
    metrics.truncateAfter(state.step);
    // One history in TensorBoard: events logged after the checkpoint are dropped from the older event files.
    truncateEventFiles(options.runDir, state.step);
  }
  const tb = new TensorBoardWriter(options.runDir);
  // A TensorBoard that read the orphaned events before they were dropped purges them on this event.
  if (options.resume) tb.sessionStart(state.step + 1);
  for (const [tag, markdown] of Object.entries(options.texts ?? {})) tb.text(tag, markdown, options.resume ? state.step + 1 : 0);
  const progress = new ProgressBar({ total: options.steps, start: state.step, label: options.label, stream: options.progressStream });
  const first: Record<string, number> = {};
  const last: Record<string, number> = {};
  let intervalSum = 0;
  let intervalCount = 0;
  let interrupted = false;
  let interruptedAt = 0;
  const onSigint = (): void => {
    // A second Ctrl-C quits without the checkpoint. One keypress can arrive twice (the terminal signals the whole
    // process group, and wrappers such as tsx and yarn relay it to their child), so only a later one counts.
    if (interrupted) {
      if (performance.now() - interruptedAt > 1000) process.exit(130);
      return;
    }
    interrupted = true;
    interruptedAt = performance.now();
    process.stderr.write('\nInterrupted: writing a checkpoint, then stopping (Ctrl-C again to quit at once).\n');
  };
  process.on('SIGINT', onSigint);

  const checkpoint = async (): Promise<void> => {
    if (intervalCount > 0) {
      const mean = intervalSum / intervalCount;
      if (state.best === null || mean < state.best.value) state.best = { step: state.step, value: mean };
      intervalSum = 0;
      intervalCount = 0;
    }
    const dir = path.join(options.runDir, CHECKPOINTS, checkpointName(state.step));
    try {
      await writeDirectoryAtomic(dir, async (staging) => {
        await task.saveState(staging);
        await writeStagedFile(path.join(staging, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
        await sealCheckpoint(staging);
      });
    } catch (e) {
      throw new CheckpointWriteError(state.step, e, lastCheckpoint, options.runDir);
    }
    lastCheckpoint = dir;
    await rotateCheckpoints(options.runDir, options.keepLast, state.best?.step ?? null);
  };

  const startStepThisRun = state.step;
  try {
    while (state.step < options.steps && !interrupted) {
      const stepStart = performance.now();
      const scalars = await task.trainStep(state.step);
      const stepMs = performance.now() - stepStart;
      for (const [tag, value] of Object.entries(scalars)) {
        if (!Number.isFinite(value)) throw new NonFiniteLossError(tag, value, state.step, lastCheckpoint);
      }
      state.step += 1;
      const logged: Record<string, number> = { ...scalars, ...(task.extraScalars?.() ?? {}), 'time/step_ms': stepMs };
      if (options.monitor in logged) {
        intervalSum += logged[options.monitor]!;
        intervalCount += 1;
      }
      for (const [k, v] of Object.entries(logged)) {
        first[k] ??= v;
        last[k] = v;
      }
      // Step 1 always, to show a run has started; not a resumed run's first step, whose extra row an uninterrupted run
      // would not have (metrics.csv and TensorBoard must read as one run).
      if (state.step % options.logEvery === 0 || state.step === options.steps || state.step === 1) {
        for (const [tag, value] of Object.entries(logged)) tb.scalar(tag, value, state.step);
        metrics.append(state.step, logged);
      }
      if (task.sampleGrid && (state.step % options.sampleEvery === 0 || state.step === options.steps)) {
        await logSamples(task, tb, options.runDir, state.step);
      }
      if (state.step % options.checkpointEvery === 0 || state.step === options.steps) await checkpoint();
      progress.update(state.step, shortLosses(scalars));
      if (options.stopAfter !== undefined && state.step - startStepThisRun >= options.stopAfter) interrupted = true;
    }
    if (interrupted && lastCheckpoint !== path.join(options.runDir, CHECKPOINTS, checkpointName(state.step))) await checkpoint();
  } catch (e) {
    throw explainWriteFailure(e, state.step, lastCheckpoint, options.runDir);
  } finally {
    process.off('SIGINT', onSigint);
    progress.done();
    tb.close();
  }
  return { outcome: interrupted ? 'interrupted' : 'completed', step: state.step, first, last, lastCheckpoint, wallMs: performance.now() - started };
}

/** A failed write of a run file (metrics, events, samples) as one line saying what survives and what to do. */
function explainWriteFailure(e: unknown, step: number, lastCheckpoint: string | null, runDir: string): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (!(e instanceof Error) || (code !== 'ENOSPC' && code !== 'EIO' && code !== 'EDQUOT' && code !== 'EROFS')) return e;
  const where = (e as NodeJS.ErrnoException).path ?? runDir;
  return new Error(
    `${code} while writing ${where} after step ${step}; training stopped. ` +
      (lastCheckpoint ? `The checkpoint ${lastCheckpoint} is intact: free space (or fix the disk), then continue with --resume ${runDir}.` : 'No checkpoint was written yet: free space and start again.'),
  );
}

/**
 * Loads the newest checkpoint that passes verification. A corrupted or unloadable one is renamed to
 * `<dir>.corrupt-<time>` (kept for inspection, out of the rotation) and the one before it is tried, saying so.
 */
async function restoreNewestIntact(task: TrainingTask, runDir: string, log: (line: string) => void): Promise<{ state: LoopState; dir: string }> {
  const candidates = (await listCheckpoints(runDir)).reverse();
  if (candidates.length === 0) throw new Error(`--resume ${runDir}: no checkpoint found under ${path.join(runDir, CHECKPOINTS)}; start without --resume.`);
  const rejected: string[] = [];
  for (const c of candidates) {
    try {
      await verifyCheckpoint(c.dir);
    } catch (e) {
      // Only damage on disk falls back; a checkpoint that verifies but does not load (another model config given
      // with --set, say) is the user's to fix, and is reported as it is.
      if (!(e instanceof CorruptCheckpointError)) throw e;
      const aside = `${c.dir}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await fs.rename(c.dir, aside);
      log(`[faceshifter] --resume: ${e.message}; moved it to ${path.basename(aside)} and trying the checkpoint before it.`);
      rejected.push(c.dir);
      continue;
    }
    await task.loadState(c.dir);
    const state = JSON.parse(await fs.readFile(path.join(c.dir, STATE_FILE), 'utf8')) as LoopState;
    if (rejected.length > 0) log(`[faceshifter] --resume: continuing from ${c.dir}, the newest intact checkpoint (step ${state.step}).`);
    return { state, dir: c.dir };
  }
  throw new Error(`--resume ${runDir}: none of its ${candidates.length} checkpoint(s) is intact (see above); start the run again without --resume, in another directory.`);
}

/**
 * What a crash in the middle of {@link writeDirectoryAtomic} left in the checkpoints folder: a complete staged copy
 * or a copy set aside whose final name is missing is put back under it; anything else is deleted. Only the lock
 * holder calls this, so no save of another process is in flight.
 */
async function recoverInterruptedSaves(root: string, log: (line: string) => void): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch {
    return;
  }
  // Complete staged copies first: they are newer than copies set aside.
  const leftovers = names
    .map((n) => /^(step-\d{8})\.(tmp|old)-/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => (a[2] === b[2] ? 0 : a[2] === 'tmp' ? -1 : 1));
  for (const m of leftovers) {
    const full = path.join(root, m.input);
    const target = path.join(root, m[1]!);
    const complete = m[2] === 'old' || (await fs.access(path.join(full, COMPLETE_MARKER)).then(() => true, () => false));
    if (complete && !names.includes(m[1]!) && !(await fs.access(target).then(() => true, () => false))) {
      await fs.rename(full, target);
      log(`[faceshifter] ${target}: a save was interrupted before its final rename; restored it from ${path.basename(full)}.`);
    } else {
      await fs.rm(full, { recursive: true, force: true });
    }
  }
}

async function logSamples(task: TrainingTask, tb: TensorBoardWriter, runDir: string, step: number): Promise<void> {
  const grid = await task.sampleGrid!();
  const png = encodePng(grid);
  tb.image('samples', png, { height: grid.height, width: grid.width, channels: grid.channels }, step);
  await writeFileAtomic(path.join(runDir, 'samples', `${checkpointName(step)}.png`), png);
}

/** Deletes all but the newest `keepLast` checkpoints, never the best one. */
async function rotateCheckpoints(runDir: string, keepLast: number, bestStep: number | null): Promise<void> {
  const all = await listCheckpoints(runDir);
  const keep = new Set(all.slice(-Math.max(1, keepLast)).map((c) => c.step));
  if (bestStep !== null) keep.add(bestStep);
  for (const c of all) if (!keep.has(c.step)) await fs.rm(c.dir, { recursive: true, force: true });
}

function shortLosses(scalars: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(scalars)) if (k.startsWith('loss/')) out[k.slice(5)] = v;
  return out;
}

/**
 * The checkpoint directory meant by a path a user typed: a checkpoint itself (it has meta.json), or a run
 * directory, whose newest checkpoint is taken.
 */
export async function findCheckpoint(runOrCheckpoint: string, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<string> {
  try {
    await fs.access(path.join(runOrCheckpoint, 'meta.json'));
    return runOrCheckpoint;
  } catch {
    const all = (await listCheckpoints(runOrCheckpoint)).reverse();
    if (all.length === 0) {
      throw new Error(`${runOrCheckpoint}: neither a checkpoint (no meta.json) nor a run directory with checkpoints; point it at runs/<name> or runs/<name>/checkpoints/step-N.`);
    }
    // The newest intact one: a checkpoint corrupted on disk is named and passed over, not loaded.
    for (const c of all) {
      try {
        await verifyCheckpoint(c.dir);
        if (c !== all[0]) log(`[faceshifter] ${runOrCheckpoint}: using ${c.dir}, the newest intact checkpoint.`);
        return c.dir;
      } catch (e) {
        log(`[faceshifter] ${e instanceof Error ? e.message : String(e)}; passing over it.`);
      }
    }
    throw new Error(`${runOrCheckpoint}: none of its ${all.length} checkpoint(s) is intact (see above); retrain, or restore a checkpoint from a backup.`);
  }
}
