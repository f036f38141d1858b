/**
 * The run-directory lock on its own: refusal naming the holder, stale takeover, pid reuse, and races of many
 * processes for a free or a stale lock (exactly one wins each race).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportWeights, HEARNet, loadCheckpointNetworks, resolveModelConfig, saveCheckpoint } from '@faceshifter/core/node';
import { acquireRunLock, LOCK_FILE, RunLockedError, withRunLock } from '../trainers/run_lock.js';
import { findCheckpoint } from '../trainers/training_loop.js';
import { LONG, REPO } from '../test_utils/faults.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'faults-lock-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let k = 0;
const freshDir = (): string => {
  const d = path.join(tmp, `run-${k++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A pid that is certainly not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('close', r));
  return child.pid!;
}

/** n processes that each try to take the lock of `dir` at the same moment; returns what each said. */
async function race(dir: string, n: number): Promise<string[]> {
  const script = `
    import { acquireRunLock } from ${JSON.stringify(path.join(REPO, 'packages/train/src/trainers/run_lock.ts'))};
    const start = Number(process.argv[2]);
    if (Date.now() > start) process.stdout.write('late\\n');
    while (Date.now() < start) {}
    try {
      const lock = await acquireRunLock(process.argv[1], { notice: (l) => process.stdout.write('notice ' + l + '\\n') });
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, Number(process.argv[3])));
      process.stdout.write('won ' + t0 + ' ' + Date.now() + '\\n');
      await lock.release();
    } catch (e) {
      process.stdout.write('refused ' + e.message + '\\n');
    }`;
  // Far enough ahead that every process is waiting at the barrier when it opens, even on a loaded machine.
  const start = Date.now() + 2000 + 400 * n;
  // Held long enough that every racer has tried before it is released.
  const hold = LONG ? 3000 : 1500;
  const outputs = await Promise.all(
    Array.from({ length: n }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir, String(start), String(hold)], {
        cwd: REPO,
        env: { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO, 'tsconfig.check.json') },
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      return new Promise<string>((r) => child.on('close', () => r(out)));
    }),
  );
  return outputs;
}

describe('run lock', () => {
  it('refuses a second writer naming the holder, and frees the directory on release', async () => {
    const dir = freshDir();
    const lock = await acquireRunLock(dir, { command: 'yarn train --config a.yaml' });
    const holder = JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as Record<string, unknown>;
    expect(holder).toMatchObject({ pid: process.pid, host: hostname(), command: 'yarn train --config a.yaml' });
    const second = acquireRunLock(dir);
    await expect(second).rejects.toBeInstanceOf(RunLockedError);
    await expect(acquireRunLock(dir)).rejects.toThrow(
      new RegExp(`in use by pid ${process.pid} on ${hostname()} since .* \\(yarn train --config a\\.yaml\\); wait for it to finish or stop it`),
    );
    await lock.release();
    await lock.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    await withRunLock(dir, async () => expect(existsSync(path.join(dir, LOCK_FILE))).toBe(true));
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it('takes over a stale lock (dead pid, reused pid, unreadable file) with a one-line notice', async () => {
    for (const stale of [
      { pid: await deadPid(), host: hostname(), started: '2026-01-01T00:00:00.000Z', command: 'yarn train' },
      // This very process's pid, but recorded with another start time: the pid was reused after the holder died.
      { pid: process.pid, host: hostname(), started: '2026-01-01T00:00:00.000Z', command: 'yarn train', processStart: 1 },
      'not json',
    ]) {
      const dir = freshDir();
      writeFileSync(path.join(dir, LOCK_FILE), typeof stale === 'string' ? stale : JSON.stringify(stale));
      const notices: string[] = [];
      const lock = await acquireRunLock(dir, { notice: (l) => notices.push(l) });
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/took over the lock of pid -?\d+ .*no longer running/);
      await lock.release();
    }
  });

  it('a lock held on another host is never taken over', async () => {
    const dir = freshDir();
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), host: 'some-other-node', started: 'x', command: 'yarn train' }));
    await expect(acquireRunLock(dir)).rejects.toThrow(/in use by pid \d+ on some-other-node .* If that process is gone, delete .*run\.lock/);
  });

  it('read-only commands never need the lock: a checkpoint of a locked run loads, exports and is found', async () => {
    const run = freshDir();
    const model = resolveModelConfig({ preset: 'tiny', resolution: 32, widthMultiplier: 0.0625 }, 'model');
    const hear = new HEARNet(model, { seed: 1 });
    await saveCheckpoint(path.join(run, 'checkpoints', 'step-00000001'), { config: model, networks: { hearnet: hear }, step: 1 });
    hear.dispose();
    // Held by a live process other than this one (the test runner's parent).
    writeFileSync(path.join(run, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), started: 'now', command: 'yarn train' }));
    await expect(acquireRunLock(run)).rejects.toThrow(new RegExp(`in use by pid ${process.ppid}`));
    const found = await findCheckpoint(run);
    const loaded = await loadCheckpointNetworks(found);
    loaded.dispose();
    const exported = await exportWeights({ checkpoint: found, out: path.join(tmp, 'export.safetensors'), network: 'hearnet' });
    expect(exported.tensors).toBeGreaterThan(0);
    expect(readFileSync(path.join(run, LOCK_FILE), 'utf8')).toContain(`"pid":${process.ppid}`);
  });

  it('a lock in a directory that does not exist is an error, and creates nothing', async () => {
    const dir = path.join(tmp, 'missing', 'dir');
    await expect(acquireRunLock(dir)).rejects.toThrow(/no such directory/);
    expect(existsSync(path.join(tmp, 'missing'))).toBe(false);
  });

  const n = LONG ? 8 : 3;
  it(`of ${n} processes racing for a free lock, and for a stale one, exactly one wins`, async () => {
    for (const stale of [false, true]) {
      const dir = freshDir();
      if (stale) writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), host: hostname(), started: 'x', command: 'crashed' }));
      const said = await race(dir, n);
      const won = said.filter((s) => s.includes('won'));
      // Mutual exclusion: no two holders' intervals overlap; with every racer at the barrier in time, one holder.
      const intervals = won.map((s) => /won (\d+) (\d+)/.exec(s)!.slice(1).map(Number) as [number, number]).sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < intervals.length; i++) expect(intervals[i]![0], said.join('\n')).toBeGreaterThanOrEqual(intervals[i - 1]![1]);
      if (!said.some((s) => s.includes('late'))) expect(won, said.join('\n')).toHaveLength(1);
      expect(said.filter((s) => s.includes('refused') && /in use by pid \d+/.test(s)), said.join('\n')).toHaveLength(n - won.length);
      // The stale lock is taken over by exactly one of them, which says so; the others are refused.
      expect(said.filter((s) => s.includes('notice') && !s.includes('won'))).toEqual([]);
      if (stale) expect(said.filter((s) => s.includes('notice'))).toHaveLength(1);
      expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    }
  });
});
