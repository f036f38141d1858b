/**
 * Helpers of the fault-injection suite (*.faults.test.ts): running the real commands as child processes, tiny
 * training configs, and reading a run back for bit-for-bit comparison.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventFiles, readEventFile } from '../logging/tensorboard.js';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

/** `FACESHIFTER_FAULTS=long` (yarn test:faults) runs the long form: more kills, every bad input. */
export const LONG = process.env.FACESHIFTER_FAULTS === 'long';

/** The script of each command, as package.json runs it. */
export const CLI: Record<string, string> = {
  train: 'packages/train/src/cli/train.ts',
  'hear-select': 'packages/train/src/cli/hear_select.ts',
  'identity-mean': 'packages/train/src/cli/identity_mean.ts',
  'prepare-data': 'packages/train/src/cli/prepare_data.ts',
  'build-embedded': 'packages/train/src/cli/build_embedded.ts',
  experiments: 'packages/eval/src/cli/experiments.ts',
  swap: 'packages/eval/src/cli/swap.ts',
  eval: 'packages/eval/src/cli/eval.ts',
  weights: 'packages/core/src/node/cli/weights.ts',
  'model-summary': 'packages/core/src/node/cli/model_summary.ts',
};

export interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts `yarn <command> ...args` as node would run it (no yarn wrapper, so a signal reaches the command itself). */
export function startCli(command: string, args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, CLI[command]!), ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, TSX_TSCONFIG_PATH: path.join(REPO, 'tsconfig.check.json'), FACESHIFTER_BACKEND: undefined, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

export function runCliToEnd(command: string, args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): CliRun['done'] {
  return startCli(command, args, options).done;
}

/** A training run small enough to start, step and checkpoint in seconds on 2 cores. */
export function tinyTrainArgs(out: string, steps: number, extra: readonly string[] = []): string[] {
  const sets = [
    `train.steps=${steps}`, 'train.batchSize=1', 'model.resolution=32', 'model.widthMultiplier=0.0625', 'train.logEvery=1',
    'train.checkpointEvery=2', `train.sampleEvery=${Math.max(2, Math.floor(steps / 2))}`, 'train.keepLast=2', 'identity.encoder=face-api-recognition',
    `data.root=${path.join(REPO, 'datasets/embedded')}`, ...extra,
  ];
  return ['--config', path.join(REPO, 'configs/aei-tiny.yaml'), '--out', out, '--backend', 'wasm', ...sets.flatMap((s) => ['--set', s])];
}

/** metrics.csv without its wall-clock column, which no two runs share. */
export function metricsWithoutTimes(runDir: string): string[] {
  const lines = readFileSync(path.join(runDir, 'metrics.csv'), 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  const t = header.indexOf('time/step_ms');
  return lines.map((l) => l.split(',').filter((_, i) => i !== t).join(','));
}

/** The bytes of every tensor and state file of a checkpoint (meta.json and its creation time left out). */
export function checkpointBytes(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of readdirSync(dir).sort()) {
    if (name === 'meta.json' || name === '.complete') continue;
    out[name] = readFileSync(path.join(dir, name));
  }
  return out;
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Rows of metrics.csv written so far (0 before the file exists). */
export function loggedSteps(runDir: string): number {
  const file = path.join(runDir, 'metrics.csv');
  if (!existsSync(file)) return 0;
  return Math.max(0, readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0).length - 1);
}

/** A snapshot of a directory tree: relative path -> size, for "nothing was written" checks. */
export function treeSnapshot(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (rel: string): void => {
    const full = path.join(dir, rel);
    if (!existsSync(full)) return;
    for (const e of readdirSync(full, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out[r] = statSync(path.join(dir, r)).size;
    }
  };
  walk('');
  return out;
}

/**
 * What TensorBoard shows for a run directory: its event files read in name order through the rules of
 * TensorBoard's EventAccumulator for `brain.Event:2` files (tensorboard/backend/event_processing/
 * event_accumulator.py): a SessionLog START event at step s purges every value already read with step >= s,
 * across all tags (_CheckForRestartAndMaybePurge, _Purge with by_tags=False: kept are those with step < s).
 * Returns, per tag, the steps in the order shown.
 */
export function tensorBoardView(runDir: string, options: { purge?: boolean } = {}): Map<string, { step: number; value: number | undefined }[]> {
  const view = new Map<string, { step: number; value: number | undefined }[]>();
  for (const file of eventFiles(runDir)) {
    for (const e of readEventFile(file)) {
      if (e.kind === 'sessionLog' && e.sessionStatus === 1 && options.purge !== false) {
        for (const [tag, items] of view) view.set(tag, items.filter((x) => x.step < e.step));
      }
      if (e.kind !== 'summary') continue;
      e.tags.forEach((tag, i) => view.set(tag, [...(view.get(tag) ?? []), { step: e.step, value: e.values[i] }]));
    }
  }
  return view;
}
