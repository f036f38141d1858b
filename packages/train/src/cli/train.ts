/**
 * `yarn train --config <yaml> [--backend b] [--out runs] [--resume <run dir>] [--set key=value ...]`
 * Trains AEI-Net (or HEAR-Net) as the config says; see configs/ for the presets.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, runCli, usageFailure, selectBackend, type BackendRequest } from '@faceshifter/core/node';
import { formatDuration } from '../logging/progress.js';
import { train } from '../trainers/run.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn train')
    .usage('$0 --config <yaml> [options]\n$0 --resume <run dir> [--set train.steps=N]\n\nTrains FaceShifter as the config file says.')
    .option('config', { type: 'string', describe: 'config file, e.g. configs/aei-tiny.yaml' })
    .option('set', { type: 'string', array: true, default: [] as string[], describe: 'override a config key, e.g. --set train.steps=20 (repeatable)' })
    .option('out', { type: 'string', default: 'runs', describe: 'parent folder of run directories; a run is <out>/<name>' })
    .option('resume', { type: 'string', describe: 'continue the run in this directory from its newest checkpoint' })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .option('threads', THREADS_OPTION)
    .check((a) => {
      if (!a.config && !a.resume) throw new Error('Missing --config <yaml> (e.g. --config configs/aei-tiny.yaml), or --resume <run dir>.');
      return true;
    })
    .strict()
    .fail(usageFailure)
    .parse();

  await selectBackend(argv.backend, { threads: argv.threads });
  const { runDir, result } = await train({ config: argv.config, overrides: argv.set, out: argv.out, resume: argv.resume });
  const losses = Object.keys(result.last).filter((k) => k.startsWith('loss/'));
  const lines = [
    `${result.outcome === 'completed' ? 'finished' : 'stopped'} at step ${result.step} in ${formatDuration(result.wallMs / 1000)}; run: ${runDir}`,
    ...losses.map((k) => `  ${k.padEnd(14)} ${result.first[k]!.toFixed(4)} -> ${result.last[k]!.toFixed(4)}`),
    `checkpoint: ${result.lastCheckpoint ?? 'none'}`,
    `TensorBoard: tensorboard --logdir ${runDir}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
});
