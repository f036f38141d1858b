import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import seedrandom from 'seedrandom';
import { afterEach, describe, expect, it } from 'vitest';
import { listCheckpoints, NonFiniteLossError, runTrainingLoop, type TrainingLoopOptions, type TrainingTask } from './training_loop.js';

/** A stand-in trainer: noisy gradient descent on w toward 3, with its RNG state saved like a real data loader's. */
class ToyTask implements TrainingTask {
  w = 0;
  rng: seedrandom.prng;
  failAt: number | null = null;
  crashOnSave = false;
  constructor(seed: string) {
    this.rng = seedrandom(seed, { state: true });
  }
  async trainStep(step: number): Promise<Record<string, number>> {
    const noise = this.rng() - 0.5;
    const loss = (this.w - 3) ** 2;
    this.w -= 0.1 * 2 * (this.w - 3) + 0.01 * noise;
    return { 'loss/toy': step === this.failAt ? NaN : loss };
  }
  async saveState(dir: string): Promise<void> {
    await fs.writeFile(join(dir, 'w.json'), JSON.stringify({ w: this.w }));
    if (this.crashOnSave) throw new Error('disk full (simulated)');
    await fs.writeFile(join(dir, 'rng.json'), JSON.stringify(this.rng.state()));
  }
  async loadState(dir: string): Promise<void> {
    this.w = JSON.parse(readFileSync(join(dir, 'w.json'), 'utf8')).w;
    this.rng = seedrandom('', { state: JSON.parse(readFileSync(join(dir, 'rng.json'), 'utf8')) });
  }
  extraScalars(): Record<string, number> {
    return { lr: 0.1 };
  }
}

const quiet = new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
const dirs: string[] = [];
function options(over: Partial<TrainingLoopOptions> = {}): TrainingLoopOptions {
  const runDir = mkdtempSync(join(tmpdir(), 'loop-'));
  dirs.push(runDir);
  return { runDir, steps: 20, logEvery: 1, sampleEvery: 1000, checkpointEvery: 5, keepLast: 2, monitor: 'loss/toy', resume: false, progressStream: quiet, ...over };
}
const metricRows = (runDir: string): string[] => readFileSync(join(runDir, 'metrics.csv'), 'utf8').trim().split('\n');

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('runTrainingLoop', () => {
  it('resumes exactly: an interrupted then resumed run logs the same losses as an uninterrupted one', async () => {
    const straight = options();
    const a = await runTrainingLoop(new ToyTask('s'), straight);
    expect(a.outcome).toBe('completed');

    const split = options({ stopAfter: 7 });
    const b1 = await runTrainingLoop(new ToyTask('s'), split);
    expect(b1).toMatchObject({ outcome: 'interrupted', step: 7 });
    const b2 = await runTrainingLoop(new ToyTask('a different seed: state comes from the checkpoint'), { ...split, stopAfter: undefined, resume: true });
    expect(b2).toMatchObject({ outcome: 'completed', step: 20 });

    const losses = (dir: string): string[] => metricRows(dir).map((r) => r.split(',').slice(0, 3).join(','));
    expect(losses(split.runDir)).toEqual(losses(straight.runDir));
    expect(metricRows(straight.runDir)[0]).toBe('step,loss/toy,lr,time/step_ms');
    expect(metricRows(straight.runDir)).toHaveLength(21);
  });

  it('keeps the newest checkpoints and the best one, and writes TensorBoard events', async () => {
    const opts = options({ steps: 30, keepLast: 2 });
    await runTrainingLoop(new ToyTask('s'), opts);
    const steps = (await listCheckpoints(opts.runDir)).map((c) => c.step);
    // The loss falls monotonically here, so the best interval is the newest one.
    expect(steps).toEqual([25, 30]);
    expect(readdirSync(opts.runDir).some((f) => f.startsWith('events.out.tfevents.'))).toBe(true);
  });

  it('stops on a non-finite loss, naming it, and keeps the last good checkpoint', async () => {
    const opts = options();
    const task = new ToyTask('s');
    task.failAt = 12;
    const run = runTrainingLoop(task, opts);
    await expect(run).rejects.toBeInstanceOf(NonFiniteLossError);
    await expect(runTrainingLoop(Object.assign(new ToyTask('s'), { failAt: 12 }), options())).rejects.toThrow(/loss\/toy is NaN at step 12.*step-00000010/);
    expect((await listCheckpoints(opts.runDir)).map((c) => c.step)).toEqual([5, 10]);
  });

  it('writes a checkpoint and stops cleanly on SIGINT', async () => {
    const opts = options({ steps: 1000, checkpointEvery: 1000 });
    const task = new ToyTask('s');
    const step = task.trainStep.bind(task);
    task.trainStep = async (s) => {
      if (s === 3) process.emit('SIGINT');
      return step(s);
    };
    const result = await runTrainingLoop(task, opts);
    expect(result).toMatchObject({ outcome: 'interrupted', step: 4 });
    expect((await listCheckpoints(opts.runDir)).map((c) => c.step)).toEqual([4]);
  });

  it('a checkpoint write that dies half-way leaves the previous checkpoint intact', async () => {
    const opts = options({ steps: 10, checkpointEvery: 5 });
    const task = new ToyTask('s');
    await runTrainingLoop(task, { ...opts, steps: 5 });
    task.crashOnSave = true;
    await expect(runTrainingLoop(task, { ...opts, resume: true })).rejects.toThrow(/disk full/);
    const left = await listCheckpoints(opts.runDir);
    expect(left.map((c) => c.step)).toEqual([5]);
    expect(existsSync(join(left[0]!.dir, 'rng.json'))).toBe(true);
    expect(readdirSync(join(opts.runDir, 'checkpoints'))).toEqual(['step-00000005']);
  });

  it('says what to do when --resume finds no checkpoint', async () => {
    const opts = options({ resume: true });
    await expect(runTrainingLoop(new ToyTask('s'), opts)).rejects.toThrow(/no checkpoint found .*start without --resume/);
  });
});
