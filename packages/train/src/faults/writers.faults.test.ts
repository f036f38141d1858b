/**
 * Concurrent writers on one run directory, with the real `yarn train`: every second writer is refused at once,
 * naming the holder; after the holder is SIGKILLed, of several racers exactly one takes the stale lock over.
 * The short form (in `yarn test`) refuses one second writer; `yarn test:faults` (FACESHIFTER_FAULTS=long) refuses
 * five, then races six processes for the stale lock.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../trainers/run_lock.js';
import { LONG, loggedSteps, runCliToEnd, startCli, tinyTrainArgs, waitFor } from '../test_utils/faults.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'faults-writers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('concurrent writers on one run directory', () => {
  it('refuses every second writer at once, naming the holder; after a SIGKILL exactly one of the racers takes the stale lock', { timeout: 300_000 }, async () => {
    const out = path.join(tmp, 'concurrent');
    const runDir = path.join(out, 'aei-tiny');
    const holder = startCli('train', tinyTrainArgs(out, 400));
    await waitFor(() => loggedSteps(runDir) >= 1, 120_000, 'the first writer to train');
    const n = LONG ? 5 : 1;
    const refused = await Promise.all(Array.from({ length: n }, () => runCliToEnd('train', ['--resume', runDir, '--backend', 'wasm'])));
    for (const r of refused) {
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('[faceshifter] backend'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^error: ${runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by pid ${holder.child.pid} on .* since .*; wait for it to finish or stop it`));
    }
    holder.child.kill('SIGKILL');
    await holder.done;
    if (!LONG) {
      // The short form stops here: lock.faults.test.ts races processes for a stale lock, kill.faults.test.ts takes one over.
      console.log(`[faults] concurrent writers: ${n} refused while a writer ran`);
      return;
    }

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
