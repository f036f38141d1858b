/**
 * `yarn weights export --checkpoint <dir> --out x.safetensors [--network aei|hearnet|discriminator|all]`
 * `yarn weights import --in G_latest.pth [--in D_latest.pth] [--config <yaml>] --out <dir> [--align a] [--channels c] [--network ...] [--entry key]`
 * `yarn weights inspect --in x.safetensors|x.pth`
 *
 * Converts between this project's checkpoints (tfjs names, NHWC) and the PyTorch reference's state_dicts
 * (reference names, OIHW/IOHW/[out,in]), in safetensors or straight from the reference's `.pth` files: those are
 * read without Python, and without running anything from them (weights/pickle.ts refuses every global a
 * state_dict does not need).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
// From the Node entry, which installs Node's platform adapters: without them wasm would run on one thread.
import { BACKEND_CHOICES, THREADS_OPTION, selectBackend, type BackendRequest } from '../index.js';
import { exportWeights, importWeights, inspectWeights } from '../weights_commands.js';
import { NETWORK_NAMES, type NetworkName } from '../../weights/reference_mapping.js';
import { CHANNEL_ORDERS } from '../../faces/face_input.js';
import { FACE_ALIGNMENTS } from '../../faces/templates.js';
import { runCli, usageFailure } from './run_cli.js';

const EXPORT_CHOICES = [...NETWORK_NAMES, 'all'] as const;
const IMPORT_CHOICES = ['auto', ...NETWORK_NAMES, 'all'] as const;

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

runCli(async () => {
  await yargs(hideBin(process.argv))
    .scriptName('yarn weights')
    .usage('$0 <export|import|inspect> [options]\n\nCheckpoints ↔ the PyTorch reference implementation\'s weights (.pth or safetensors).')
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend that builds the networks' })
    .option('threads', THREADS_OPTION)
    .command(
      'export',
      'write a checkpoint\'s weights in the reference\'s names and layouts',
      (y) =>
        y
          .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint directory (has meta.json, config.yaml)' })
          .option('out', { type: 'string', demandOption: true, describe: 'safetensors file to write' })
          .option('network', {
            choices: EXPORT_CHOICES,
            default: 'aei' as NetworkName | 'all',
            describe: 'network to export; all = every network in the checkpoint, names prefixed with aei./hearnet./discriminator.',
          }),
      async (argv) => {
        await selectBackend(argv.backend, { threads: argv.threads });
        const r = await exportWeights({ checkpoint: argv.checkpoint, out: argv.out, network: argv.network });
        process.stdout.write(`wrote ${argv.out}: ${r.networks.join(', ')}, ${r.tensors} tensors, ${megabytes(r.bytes)}\n`);
      },
    )
    .command(
      'import',
      'build the networks of a config, load reference weights into them, and write a checkpoint',
      (y) =>
        y
          .option('in', { type: 'string', array: true, demandOption: true, describe: 'reference weights, .pth (torch.save) or safetensors; repeat for AEI-Net and D (G_latest.pth, D_latest.pth)' })
          .option('entry', { type: 'string', describe: 'key of the state_dict inside a .pth checkpoint that holds several (default: found)' })
          .option('config', { type: 'string', describe: "YAML config with a model: section (default: what the AEI-Net file's shapes imply)" })
          .option('align', { choices: FACE_ALIGNMENTS, describe: "the alignment the weights were trained on (default: the file's metadata, else the reference's: reference)" })
          .option('channels', { choices: CHANNEL_ORDERS, describe: "their channel order (default: the file's metadata, else the reference's: bgr)" })
          .option('out', { type: 'string', demandOption: true, describe: 'checkpoint directory to write (replaced atomically)' })
          .option('network', {
            choices: IMPORT_CHOICES,
            default: 'auto' as (typeof IMPORT_CHOICES)[number],
            describe: 'network each input holds; auto reads the file metadata or the tensor names',
          }),
      async (argv) => {
        await selectBackend(argv.backend, { threads: argv.threads });
        const meta = await importWeights({ inputs: argv.in, config: argv.config, out: argv.out, network: argv.network, entry: argv.entry, align: argv.align, channels: argv.channels });
        process.stdout.write(`wrote checkpoint ${argv.out}: ${meta.networks.join(', ')} (${meta.faces!.align} alignment, ${meta.faces!.channels.toUpperCase()})\n`);
      },
    )
    .command(
      'inspect',
      'list the tensors of a safetensors or .pth file (name, dtype, shape)',
      (y) =>
        y
          .option('in', { type: 'string', demandOption: true, describe: 'safetensors or .pth file' })
          .option('entry', { type: 'string', describe: 'key of the state_dict inside a .pth checkpoint that holds several' }),
      async (argv) => {
        for (const line of await inspectWeights(argv.in, { entry: argv.entry })) process.stdout.write(line + '\n');
      },
    )
    .demandCommand(1, 'Name a command: export, import or inspect.')
    // Errors from a command body and usage errors alike become one line through runCli.
    .fail((message, error) => {
      throw error ?? new Error(`${message} (see yarn weights --help)`);
    })
    .strict()
    .fail(usageFailure)
    .parseAsync();
});
