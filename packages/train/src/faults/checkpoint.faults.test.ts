/**
 * Checkpoints under disk faults and damage: a write that fails (ENOSPC, EIO) at any byte leaves the previous
 * checkpoint intact and stops the run with one clear line; a corrupted or truncated file of any kind is named by
 * every loader, and --resume falls back to the newest intact checkpoint, saying so, and still ends bit-identical.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import seedrandom from 'seedrandom';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CorruptCheckpointError, injectedWriteFailures, injectWriteFault, loadCheckpointNetworks, verifyCheckpoint, writeStagedFile, type WriteFaultCode } from '@faceshifter/core/node';
import { train } from '../trainers/run.js';
import { CheckpointWriteError, findCheckpoint, runTrainingLoop, type TrainingLoopOptions, type TrainingTask } from '../trainers/training_loop.js';
import { LONG, metricsWithoutTimes, REPO } from '../test_utils/faults.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'faults-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => injectWriteFault(null));
const quiet = new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
let n = 0;
const fresh = (): string => path.join(tmp, `run-${n++}`);

/** Noisy descent with state in three files (like weights, optimiser and data state), all written as the trainers do. */
class ToyTask implements TrainingTask {
  w = new Float64Array(64);
  rng = seedrandom('toy', { state: true });
  async trainStep(): Promise<Record<string, number>> {
    let loss = 0;
    for (let i = 0; i < this.w.length; i++) {
      loss += (this.w[i]! - 1) ** 2;
      this.w[i]! -= 0.1 * (this.w[i]! - 1) + 0.01 * (this.rng() - 0.5);
    }
    return { 'loss/toy': loss };
  }
  async saveState(dir: string): Promise<void> {
    await writeStagedFile(path.join(dir, 'weights.bin'), new Uint8Array(this.w.buffer.slice(0)));
    await writeStagedFile(path.join(dir, 'optimizer.bin'), new Uint8Array(4096).fill(7));
    await writeStagedFile(path.join(dir, 'data_state.json'), JSON.stringify(this.rng.state()));
  }
  async loadState(dir: string): Promise<void> {
    const bytes = readFileSync(path.join(dir, 'weights.bin'));
    if (bytes.byteLength !== this.w.byteLength) throw new Error(`${dir}/weights.bin: wrong size`);
    this.w = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    this.rng = seedrandom('', { state: JSON.parse(readFileSync(path.join(dir, 'data_state.json'), 'utf8')) });
  }
}

const loop = (runDir: string, over: Partial<TrainingLoopOptions> = {}): TrainingLoopOptions => ({
  runDir, steps: 12, logEvery: 1, sampleEvery: 1000, checkpointEvery: 4, keepLast: 3, monitor: 'loss/toy', resume: false, progressStream: quiet, log: () => {}, ...over,
});
const rows = (runDir: string): string[] => metricsWithoutTimes(runDir);
const entries = (dir: string): string[] => readdirSync(dir).sort();

describe('a checkpoint write that fails (ENOSPC, EIO)', () => {
  const reference = fresh();
  let checkpointBytes = 0;
  it('reference: an uninterrupted run', async () => {
    await runTrainingLoop(new ToyTask(), loop(reference));
    const dir = path.join(reference, 'checkpoints', 'step-00000008');
    checkpointBytes = readdirSync(dir).reduce((s, f) => s + statSync(path.join(dir, f)).size, 0);
    expect(checkpointBytes).toBeGreaterThan(4096);
  });

  it('at any byte: the previous checkpoint stays intact, the run stops with one line, and --resume later ends bit-identically', async () => {
    // Byte offsets into the second checkpoint's writes: the first byte, every file boundary and points inside files.
    const offsets = (LONG ? 128 : 24);
    const byteOffsets = Array.from({ length: offsets }, (_, i) => Math.floor((i / offsets) * checkpointBytes));
    const codes: WriteFaultCode[] = ['ENOSPC', 'EIO'];
    let injected = 0;
    for (const [i, afterBytes] of byteOffsets.entries()) {
      const code = codes[i % 2]!;
      const runDir = fresh();
      await runTrainingLoop(new ToyTask(), loop(runDir, { steps: 4 }));
      injectWriteFault({ code, afterBytes, match: /checkpoints/ });
      const err = await runTrainingLoop(new ToyTask(), loop(runDir, { resume: true })).catch((e: unknown) => e);
      injected += injectedWriteFailures();
      injectWriteFault(null);
      expect(err, `fault at byte ${afterBytes}`).toBeInstanceOf(CheckpointWriteError);
      const message = (err as Error).message;
      expect(message.split('\n')).toHaveLength(1);
      expect(message).toMatch(new RegExp(`^could not write the checkpoint of step 8 \\(${code}: .*\\); training stopped\\. The previous checkpoint .*step-00000004 is intact: free space .*--resume`));
      // Nothing half-written is left: the previous checkpoint verifies and nothing else is in the folder.
      expect(entries(path.join(runDir, 'checkpoints'))).toEqual(['step-00000004']);
      await verifyCheckpoint(path.join(runDir, 'checkpoints', 'step-00000004'));
      const resumed = await runTrainingLoop(new ToyTask(), loop(runDir, { resume: true }));
      expect(resumed).toMatchObject({ outcome: 'completed', step: 12 });
      expect(rows(runDir)).toEqual(rows(reference));
    }
    expect(injected).toBe(offsets);
    console.log(`[faults] write faults injected during a checkpoint: ${injected} (ENOSPC and EIO alternately, at ${offsets} byte offsets)`);
  });

  it('a real AEI-Net run (yarn train) that hits ENOSPC mid-checkpoint keeps its previous checkpoint and resumes', async () => {
    const out = fresh();
    const sets = [
      'train.steps=4', 'train.batchSize=1', 'model.resolution=32', 'model.widthMultiplier=0.0625', 'train.logEvery=1', 'train.checkpointEvery=2',
      'train.sampleEvery=100', 'identity.encoder=face-api-recognition', `data.root=${path.join(REPO, 'datasets/embedded')}`,
    ];
    const config = path.join(REPO, 'configs/aei-tiny.yaml');
    // 1.5 MB into the step-4 checkpoint: inside discriminator.safetensors, after aei.safetensors.
    injectWriteFault({ code: 'ENOSPC', afterBytes: 1_500_000, match: /step-00000004/ });
    const err = await train({ config, overrides: sets, out, progressStream: quiet }).catch((e: unknown) => e);
    injectWriteFault(null);
    expect((err as Error).message).toMatch(/^could not write the checkpoint of step 4 \(ENOSPC: no space left on device, write '.*\.safetensors'\); training stopped\. The previous checkpoint .*step-00000002 is intact/);
    const runDir = path.join(out, 'aei-tiny');
    expect(entries(path.join(runDir, 'checkpoints'))).toEqual(['step-00000002']);
    expect(existsSync(path.join(runDir, 'run.lock'))).toBe(false);
    const { result } = await train({ resume: runDir, progressStream: quiet });
    expect(result).toMatchObject({ outcome: 'completed', step: 4 });
  });
});

describe('corrupted and truncated checkpoints', () => {
  it('every loader names the damaged file; --resume falls back to the newest intact checkpoint and ends bit-identically', async () => {
    const reference = fresh();
    await runTrainingLoop(new ToyTask(), loop(reference));
    const files = ['weights.bin', 'optimizer.bin', 'data_state.json', 'loop_state.json', 'meta.json'];
    const damages = ['truncated', 'flipped', 'emptied', 'deleted'] as const;
    let tried = 0;
    for (const file of files) {
      for (const damage of damages) {
        const runDir = fresh();
        await runTrainingLoop(new ToyTask(), loop(runDir, { steps: 8 }));
        const target = path.join(runDir, 'checkpoints', 'step-00000008', file);
        const bytes = readFileSync(target);
        if (damage === 'truncated') truncateSync(target, Math.floor(bytes.byteLength / 2));
        if (damage === 'flipped') writeFileSync(target, Buffer.from(bytes.map((b, i) => (i === Math.floor(bytes.byteLength / 2) ? b ^ 0x10 : b))));
        if (damage === 'emptied') writeFileSync(target, '');
        if (damage === 'deleted') rmSync(target);
        const what = `${file} ${damage}`;
        await expect(verifyCheckpoint(path.dirname(target)), what).rejects.toBeInstanceOf(CorruptCheckpointError);
        await expect(verifyCheckpoint(path.dirname(target))).rejects.toThrow(file === 'meta.json' ? /meta\.json is (missing|unreadable)/ : new RegExp(`${file.replace('.', '\\.')} (is truncated|is missing|does not match|has \\d+ bytes)`));
        const notices: string[] = [];
        const found = await findCheckpoint(runDir, (l) => notices.push(l));
        expect(found, what).toMatch(/step-00000004$/);
        const resumed = await runTrainingLoop(new ToyTask(), loop(runDir, { resume: true, log: (l) => notices.push(l) }));
        expect(resumed).toMatchObject({ outcome: 'completed', step: 12 });
        expect(notices.join('\n'), what).toMatch(/--resume: .*step-00000008: corrupted checkpoint \(.*\); moved it to step-00000008\.corrupt-.*continuing from .*step-00000004/s);
        expect(rows(runDir), what).toEqual(rows(reference));
        // Nothing lost: the damaged checkpoint is kept aside for inspection, not deleted.
        expect(entries(path.join(runDir, 'checkpoints')).some((e) => e.startsWith('step-00000008.corrupt-'))).toBe(true);
        tried++;
      }
    }
    console.log(`[faults] damaged checkpoints resumed from: ${tried} (${files.length} files x ${damages.join('/')})`);
  });

  it('loadCheckpointNetworks, which swap, eval, hear-select and weights export load through, refuses a damaged checkpoint by name', async () => {
    const out = fresh();
    const sets = [
      'train.steps=1', 'train.batchSize=1', 'model.resolution=32', 'model.widthMultiplier=0.0625', 'train.sampleEvery=100',
      'identity.encoder=face-api-recognition', `data.root=${path.join(REPO, 'datasets/embedded')}`,
    ];
    const { runDir } = await train({ config: path.join(REPO, 'configs/aei-tiny.yaml'), overrides: sets, out, progressStream: quiet });
    const good = path.join(runDir, 'checkpoints', 'step-00000001');
    for (const file of ['aei.safetensors', 'discriminator.safetensors', 'config.yaml']) {
      const bad = path.join(tmp, `damaged-${n++}`);
      cpSync(good, bad, { recursive: true });
      truncateSync(path.join(bad, file), 100);
      await expect(loadCheckpointNetworks(bad)).rejects.toThrow(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupted checkpoint \\(${file.replace('.', '\\.')} is truncated \\(100 of \\d+ bytes\\)\\)`));
    }
  });
});
