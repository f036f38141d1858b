/**
 * TensorBoard after a crash and a resume: one history, no duplicated or zig-zag steps, read with TensorBoard's own
 * rules (SessionLog START purges every event with a step >= its own; tensorBoardView re-implements them), and also
 * by a reader that does not purge (the event files are rewritten), and with a torn record at the end of a file.
 */
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { writeStagedFile } from '@faceshifter/core/node';
import { eventFiles, readEventFile } from '../logging/tensorboard.js';
import { runTrainingLoop, type TrainingLoopOptions, type TrainingTask } from '../trainers/training_loop.js';
import { tensorBoardView } from '../test_utils/faults.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'faults-tb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet = new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;

class Counter implements TrainingTask {
  x = 0;
  crashAt: number | null = null;
  async trainStep(step: number): Promise<Record<string, number>> {
    if (step === this.crashAt) throw new Error('simulated crash');
    this.x += 1;
    return { 'loss/x': 100 - this.x * this.x };
  }
  async saveState(dir: string): Promise<void> {
    await writeStagedFile(path.join(dir, 'x.json'), JSON.stringify(this.x));
  }
  async loadState(dir: string): Promise<void> {
    this.x = JSON.parse((await import('node:fs')).readFileSync(path.join(dir, 'x.json'), 'utf8')) as number;
  }
}

const opts = (runDir: string, over: Partial<TrainingLoopOptions> = {}): TrainingLoopOptions => ({
  runDir, steps: 20, logEvery: 3, sampleEvery: 1000, checkpointEvery: 5, keepLast: 2, monitor: 'loss/x', resume: false, progressStream: quiet, log: () => {},
  texts: { config: 'a config' }, ...over,
});
const history = (runDir: string, purge: boolean): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [tag, items] of tensorBoardView(runDir, { purge })) if (tag !== 'time/step_ms' && tag !== 'config') out[tag] = items.map((i) => `${i.step}:${i.value}`).join(' ');
  return out;
};

describe('TensorBoard after a crash and --resume', () => {
  it('shows one history equal to an uninterrupted run, through TensorBoard purge semantics and without them', async () => {
    const straight = path.join(tmp, 'straight');
    await runTrainingLoop(new Counter(), opts(straight));

    const crashed = path.join(tmp, 'crashed');
    const task = new Counter();
    task.crashAt = 13; // steps 11..13 are logged after the checkpoint of step 10, then the process "dies"
    await expect(runTrainingLoop(task, opts(crashed))).rejects.toThrow(/simulated crash/);
    // A torn record at the end, as a SIGKILL in the middle of a write leaves it.
    appendFileSync(eventFiles(crashed)[0]!, Buffer.from([0x20, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
    const before = tensorBoardView(crashed, { purge: false }).get('loss/x')!.map((i) => i.step);
    expect(before).toEqual([1, 3, 6, 9, 12]);

    await new Promise((r) => setTimeout(r, 1100)); // a new second: the resumed run's event file gets its own name
    await runTrainingLoop(new Counter(), opts(crashed, { resume: true }));
    expect(eventFiles(crashed)).toHaveLength(2);

    // The resumed run's file starts with SessionLog START at the first step after its checkpoint (11), as TensorFlow's writers do.
    const resumedEvents = readEventFile(eventFiles(crashed)[1]!);
    const start = resumedEvents.find((e) => e.kind === 'sessionLog');
    expect(start).toMatchObject({ step: 11, sessionStatus: 1 });
    expect(resumedEvents.findIndex((e) => e.kind === 'sessionLog')).toBeLessThan(resumedEvents.findIndex((e) => e.kind === 'summary'));

    expect(history(crashed, true)).toEqual(history(straight, true));
    expect(history(crashed, false)).toEqual(history(straight, false));
    for (const [tag, items] of tensorBoardView(crashed, { purge: false })) {
      const steps = items.map((i) => i.step);
      if (tag === 'config') expect(steps).toEqual([0, 11]); // each invocation's config, where it starts
      else expect(steps, tag).toEqual([...new Set(steps)].sort((a, b) => a - b));
    }
    // Nothing of the rewrite is left over.
    expect(readdirSync(crashed).filter((n) => n.includes('.tmp') || n.includes('rewrite'))).toEqual([]);
  });
});
