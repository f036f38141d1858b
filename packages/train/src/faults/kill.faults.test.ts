/**
 * `yarn train` killed with SIGKILL at random moments (mid-checkpoint included), each time continued with --resume,
 * must end exactly where an uninterrupted run ends: the same metrics.csv rows, the same bytes in every weight,
 * optimiser and data-state file, and the same TensorBoard history.
 * Short form in `yarn test`; `yarn test:faults` (FACESHIFTER_FAULTS=long) kills more often, on a longer run.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import seedrandom from 'seedrandom';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyCheckpoint } from '@faceshifter/core/node';
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
