/**
 * `yarn experiments run experiments/<file>.yaml [--shard i/n] [--steps N] [--out dir]`: trains and evaluates each
 * variant of an experiment file (resumable, shardable), then writes results.csv and results.md.
 * `yarn experiments report experiments/<file>.yaml`: collects the per-variant results of all shards into the tables.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, runCli, usageFailure, selectBackend, type BackendRequest } from '@faceshifter/core/node';
import { parseShard } from '@faceshifter/train';
import { loadExperiment } from '../experiments/experiment.js';
import { runExperiment, writeResults } from '../experiments/runner.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn experiments')
    .usage('$0 run <experiment.yaml> [--shard i/n] [--steps N]\n$0 report <experiment.yaml>\n\nAblations: train and evaluate each variant of an experiment file; see experiments/README.md.')
    .command('run <file>', 'train and evaluate this shard\'s variants (finished ones are skipped, interrupted ones resumed)', (y) =>
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'experiment file, e.g. experiments/ablations-tiny.yaml' })
        .option('shard', { type: 'string', describe: 'run only variants k with k mod n = i, e.g. --shard 0/4 (--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)' })
        .option('steps', { type: 'number', describe: 'override train.steps (logEvery, sampleEvery, checkpointEvery scale with it) for quick runs' })
        .check((a) => {
          if (a.steps !== undefined && !(Number.isInteger(a.steps) && a.steps >= 1)) throw new Error(`--steps ${a.steps}: give an integer of at least 1`);
          return true;
        }),
    )
    .command('report <file>', 'write results.csv and results.md from the per-variant results present (of every shard)', (y) =>
      y.positional('file', { type: 'string', demandOption: true, describe: 'experiment file' }),
    )
    .option('out', { type: 'string', describe: 'results folder (default: <experiment folder>/results/<name>)' })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .option('threads', THREADS_OPTION)
    .demandCommand(1, 'give a command: run or report')
    .strict()
    .fail(usageFailure)
    .parse();
  const command = String(argv._[0]);
  const file = argv.file as string;
  const experiment = loadExperiment(file);
  if (command === 'report') {
    const w = await writeResults(experiment, argv.out);
    process.stdout.write(`wrote ${w.csv} and ${w.md} (${w.rows} row(s))${w.missing.length ? `; not finished yet: ${w.missing.join(', ')}` : ''}\n`);
    return;
  }
  await selectBackend(argv.backend, { threads: argv.threads });
  const shard = argv.shard !== undefined ? parseShard(String(argv.shard)) : undefined;
  const s = await runExperiment(experiment, {
    steps: argv.steps as number | undefined,
    shard,
    out: argv.out,
    log: (line) => process.stderr.write(line + '\n'),
    progressStream: process.stderr,
  });
  if (s.interrupted) {
    process.stdout.write(`interrupted while training ${s.interrupted}; its checkpoint is written. Run the same command again to resume.\n`);
    return;
  }
  if (s.failed.length) {
    throw new Error(`${s.failed.length} variant(s) failed: ${s.failed.map((f) => `${f.variant} (${f.error})`).join('; ')}; the others are done. Fix and run the same command again to retry them.`);
  }
  process.stdout.write(
    `evaluated: ${s.evaluated.join(', ') || 'none'}; skipped (done before): ${s.skipped.join(', ') || 'none'}\n` +
      (s.tables ? `results: ${s.tables.csv}, ${s.tables.md}\n` : `results pending on other shards; then: yarn experiments report ${file}\n`),
  );
});
