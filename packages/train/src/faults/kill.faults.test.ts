/**
 * `yarn train` killed with SIGKILL at random moments (mid-checkpoint included), each time continued with --resume,
 * must end exactly where an uninterrupted run ends: the same metrics.csv rows, the same bytes in every weight,
 * optimiser and data-state file, and the same TensorBoard history. Also: concurrent writers on one run directory.
 * Short form in `yarn test`; `yarn test:faults` (FACESHIFTER_FAULTS=long) kills more often, on a longer run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import seedrandom from 'seedrandom';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '@faceshifter/core';
import { LOCK_FILE } from '../trainers/run_lock.js';
import { listCheckpoints } from '../trainers/training_loop.js';
import { checkpointBytes, LONG, loggedSteps, metricsWithoutTimes, runCliToEnd, startCli, tensorBoardView, tinyTrainArgs, waitFor } from '../test_utils/faults.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'faults-kill-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STEPS = LONG ? 24 : 10;
type KillKind = 'random' | 'during-checkpoint' | 'crash-staged' | 'crash-aside';
// The short form kills once at a random moment and once with a complete checkpoint staged but not yet renamed.
const KILLS: KillKind[] = LONG ? ['random', 'during-checkpoint', 'crash-staged', 'random', 'crash-aside', 'random', 'during-checkpoint'] : ['random', 'crash-staged'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Scalars as TensorBoard shows them, without the wall-clock tag and the config text (each invocation logs the
 * config it ran with at its first step, so a resumed run shows one entry per resume, by design).
 */
function scalarView(runDir: string, purge: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [tag, items] of tensorBoardView(runDir, { purge })) {
    if (tag === 'time/step_ms' || tag === 'config') continue;
    out[tag] = items.map((i) => `${i.step}:${i.value}`).join(' ');
  }
  return out;
}

describe('SIGKILL at random moments, then --resume', () => {
  it(`survives ${KILLS.length} kills (${[...new Set(KILLS)].join(', ')}) bit-identically to an uninterrupted run`, { timeout: 600_000 }, async () => {
    const rng = seedrandom('faults-kill');
    const reference = runCliToEnd('train', tinyTrainArgs(path.join(tmp, 'reference'), STEPS));
    const runDir = path.join(tmp, 'killed', 'aei-tiny');
    const checkpointsDir = path.join(runDir, 'checkpoints');
    const report: string[] = [];
    // After a kill between staging a checkpoint and renaming it, the next process must put the staged copy in place.
    const restoredIfStaged = (k: number, stderr: string): void => {
      if (k > 0 && KILLS[k - 1]!.startsWith('crash-')) expect(stderr, `after ${KILLS[k - 1]}`).toMatch(/a save was interrupted before its final rename; restored it from step-\d{8}\.tmp-/);
    };
    for (let k = 0; k < KILLS.length; k++) {
      const kind = KILLS[k]!;
      const args = k === 0 ? tinyTrainArgs(path.join(tmp, 'killed'), STEPS) : ['--resume', runDir, '--backend', 'wasm'];
      const env: Record<string, string> = {};
      if (kind === 'crash-staged') env.FACESHIFTER_CRASH_AT = 'checkpoint-staged:1';
      if (kind === 'crash-aside') env.FACESHIFTER_CRASH_AT = 'checkpoint-aside:1';
      const run = startCli('train', args, { env });
      let exited = false;
      void run.done.then(() => (exited = true));
      const rowsBefore = loggedSteps(runDir);
      if (kind === 'random') {
        // One to three steps into this process, then a random fraction of a step: inside a step, a log write or a checkpoint.
        const target = Math.min(STEPS - 2, rowsBefore + 1 + Math.floor(rng() * 3));
        await waitFor(() => exited || loggedSteps(runDir) >= target, 120_000, `step ${target}`);
        await sleep(Math.floor(rng() * 400));
        run.child.kill('SIGKILL');
      } else if (kind === 'during-checkpoint') {
        // The moment a checkpoint's staging directory appears: the save is under way.
        const staging = (): boolean => existsSync(checkpointsDir) && readdirSync(checkpointsDir).some((n) => n.includes('.tmp-'));
        await waitFor(() => exited || (loggedSteps(runDir) > rowsBefore && staging()), 120_000, 'a checkpoint being written');
        run.child.kill('SIGKILL');
      }
      const r = await run.done;
      expect(r.signal, `kill ${k + 1} (${kind}) came too late: the run had finished\n${r.stderr}`).toBe('SIGKILL');
      restoredIfStaged(k, r.stderr);
      report.push(`${kind}@${loggedSteps(runDir)}`);
      // Nothing lost: every checkpoint on disk verifies, whatever moment the kill hit.
      for (const c of await listCheckpoints(runDir)) await verifyCheckpoint(c.dir);
      expect(loggedSteps(runDir)).toBeLessThan(STEPS);
    }
    const last = await runCliToEnd('train', ['--resume', runDir, '--backend', 'wasm']);
    expect(last.code, last.stderr).toBe(0);
    restoredIfStaged(KILLS.length, last.stderr);
    expect(last.stderr).toMatch(/took over the lock of pid \d+ .*no longer running/);
    const ref = await reference;
    expect(ref.code, ref.stderr).toBe(0);
    const refDir = path.join(tmp, 'reference', 'aei-tiny');

    expect(metricsWithoutTimes(runDir)).toEqual(metricsWithoutTimes(refDir));
    expect(metricsWithoutTimes(runDir)).toHaveLength(STEPS + 1);
    const final = `checkpoints/step-${String(STEPS).padStart(8, '0')}`;
    const a = checkpointBytes(path.join(runDir, final));
    const b = checkpointBytes(path.join(refDir, final));
    expect(Object.keys(a)).toEqual(Object.keys(b));
    for (const name of Object.keys(b)) expect(a[name]!.equals(b[name]!), `${final}/${name} differs from the uninterrupted run`).toBe(true);

    // TensorBoard: one history, step by step equal to the uninterrupted run's, read with its purge rule and without.
    const view = scalarView(runDir, true);
    expect(view).toEqual(scalarView(refDir, true));
    expect(scalarView(runDir, false)).toEqual(view);
    for (const [tag, items] of tensorBoardView(runDir)) {
      const steps = items.map((i) => i.step);
      expect(steps, tag).toEqual([...steps].sort((x, y) => x - y));
      expect(new Set(steps).size, `${tag} has a duplicated step`).toBe(steps.length);
    }
    console.log(`[faults] kills survived: ${KILLS.length} (${report.join(', ')}); metrics, weights and TensorBoard bit-identical`);
  });
});

describe('concurrent writers on one run directory', () => {
  it('refuses every second writer at once, naming the holder; after a SIGKILL exactly one of the racers takes the stale lock', { timeout: 300_000 }, async () => {
    const out = path.join(tmp, 'concurrent');
    const runDir = path.join(out, 'aei-tiny');
    const holder = startCli('train', tinyTrainArgs(out, 400));
    await waitFor(() => loggedSteps(runDir) >= 1, 120_000, 'the first writer to train');
    const n = LONG ? 5 : 2;
    const refused = await Promise.all(Array.from({ length: n }, () => runCliToEnd('train', ['--resume', runDir, '--backend', 'wasm'])));
    for (const r of refused) {
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('[faceshifter] backend'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^error: ${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by pid ${holder.child.pid} on .* since .*; wait for it to finish or stop it`));
    }
    holder.child.kill('SIGKILL');
    await holder.done;

    // Now the lock is stale: of n racers exactly one takes it over (and trains on), the others are refused naming it.
    const racers = Array.from({ length: n + 1 }, () => startCli('train', ['--resume', runDir, '--backend', 'wasm']));
    const settled: { code: number | null; stderr: string }[] = [];
    const finished = racers.map((r) => r.done.then((d) => settled.push(d)));
    await waitFor(() => settled.length === n, 120_000, `${n} racers to be refused`);
    const winner = racers.find((r) => r.child.exitCode === null && r.child.signalCode === null)!;
    expect(winner).toBeDefined();
    for (const r of settled) {
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`is in use by pid ${winner.child.pid} `));
    }
    const lock = (): { pid?: number } => JSON.parse(readFileSync(path.join(runDir, LOCK_FILE), 'utf8')) as { pid?: number };
    expect(lock().pid).toBe(winner.child.pid);
    winner.child.kill('SIGKILL');
    await Promise.all(finished);
    expect(settled.find((d) => d.stderr.includes('took over the lock'))?.stderr).toMatch(new RegExp(`took over the lock of pid ${holder.child.pid} `));
    console.log(`[faults] concurrent writers: ${n} refused while a writer ran, ${n} of ${n + 1} racers refused on a stale lock, 1 took it over`);
  });
});
