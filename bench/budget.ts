/**
 * Per-figure time budgets. An emulated adapter (SwiftShader) can take hours over one figure (the paper-preset
 * training step at 256²), and a GPU computation cannot be interrupted from JavaScript once queued; so under a budget
 * each figure runs in its own child process, which is killed when the budget runs out, and the figure is recorded
 * as not measured, with the reason, instead of the bench hanging.
 */
import { spawn } from 'node:child_process';
import type { FigureName, FigureValues } from './figures.js';

export type FigureOutcome = { values: FigureValues } | { notMeasured: string };

/** Runs `bench/main.ts --figures <name> --json` in a child process, killed after `budgetS` seconds. */
export function runFigureInChild(name: FigureName, args: { backend: string; threads: number | null; runs: number; clock: string; budgetS: number }): Promise<FigureOutcome> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, process.argv[1]!, '--figures', name, '--json', '--backend', args.backend, ...(args.threads !== null ? ['--threads', String(args.threads)] : []), '--runs', String(args.runs), '--clock', args.clock],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    let overBudget = false;
    const timer = setTimeout(() => {
      overBudget = true;
      child.kill('SIGKILL');
    }, args.budgetS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (overBudget) return resolve({ notMeasured: `stopped after the per-figure budget of ${args.budgetS} s (--budget-s)` });
      if (code !== 0) return resolve({ notMeasured: `its process failed (${signal ?? `exit code ${code}`}); see the log above` });
      try {
        resolve({ values: JSON.parse(stdout.trim().split('\n').pop()!) as FigureValues });
      } catch {
        resolve({ notMeasured: 'its process printed no JSON report' });
      }
    });
  });
}
