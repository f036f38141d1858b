/**
 * `yarn identity import --encoder arcface-ir-se50 --in model_ir_se50.pth --out weights/arcface-ir-se50.safetensors`
 * `yarn identity embed --encoder <name> [--weights <file>] --image <png> [--aligned-112] [--json]` (= `yarn identity-embed`)
 *
 * The InsightFace identity networks from their PyTorch weights: `import` checks a .pth against the encoder's
 * architecture and stores it as safetensors (optional: identity.weights takes the .pth itself); `embed` prints the
 * L2-normalised embedding of one face, which is how to check weights against PyTorch: with `--aligned-112` the image
 * is a 112² crop in the network's own alignment, fed as (p/255 − 0.5)/0.5 with no warp, exactly what the PyTorch
 * network is fed.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
// From the Node entry, which installs Node's platform adapters: without them wasm would run on one thread.
import { BACKEND_CHOICES, THREADS_OPTION, selectBackend, type BackendRequest } from '../index.js';
import { embedImage, importIdentityWeights } from '../identity_commands.js';
import { INSIGHTFACE_ENCODER_NAMES } from '../../identity/insightface_encoder.js';
import { IDENTITY_ENCODERS } from '../../identity/registry.js';
import { runCli } from './run_cli.js';

runCli(async () => {
  await yargs(hideBin(process.argv))
    .scriptName('yarn identity')
    .usage('$0 <import|embed> [options]\n\nIdentity networks from PyTorch weights (InsightFace IR-SE50, arcface_torch iresnets).')
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .option('threads', THREADS_OPTION)
    .command(
      'import',
      "check an InsightFace network's .pth against its architecture and write it as safetensors",
      (y) =>
        y
          .option('encoder', { choices: INSIGHTFACE_ENCODER_NAMES, demandOption: true, describe: 'the architecture the weights are for' })
          .option('in', { type: 'string', demandOption: true, describe: '.pth (torch.save) or safetensors weights, e.g. model_ir_se50.pth or backbone.pth' })
          .option('out', { type: 'string', demandOption: true, describe: 'safetensors file to write' })
          .option('entry', { type: 'string', describe: 'key of the state_dict inside a checkpoint that holds several' }),
      async (argv) => {
        await selectBackend(argv.backend, { threads: argv.threads });
        const r = await importIdentityWeights({ encoder: argv.encoder, input: argv.in, out: argv.out, entry: argv.entry });
        process.stdout.write(`wrote ${argv.out}: ${argv.encoder}, ${r.tensors} tensors, ${r.parameters.toLocaleString('en-US')} parameters, ${(r.bytes / 1024 / 1024).toFixed(1)} MiB\n`);
      },
    )
    .command(
      'embed',
      'print the L2-normalised embedding of one face',
      (y) =>
        y
          .option('encoder', { choices: IDENTITY_ENCODERS, demandOption: true, describe: 'identity encoder' })
          .option('weights', { type: 'string', describe: 'its PyTorch weights (.pth or safetensors), for the InsightFace encoders' })
          .option('image', { type: 'string', demandOption: true, describe: 'an FFHQ-aligned face crop (yarn prepare-data), or with --aligned-112 a 112² network-aligned crop' })
          .option('aligned-112', { type: 'boolean', default: false, describe: "the image is a 112² crop in the network's own alignment: no warp" })
          .option('json', { type: 'boolean', default: false, describe: 'print {encoder, dim, embedding} as JSON' }),
      async (argv) => {
        await selectBackend(argv.backend, { threads: argv.threads, log: () => {} });
        const r = await embedImage({ encoder: argv.encoder, weights: argv.weights, image: argv.image, aligned112: argv.aligned112 });
        process.stdout.write(argv.json ? JSON.stringify(r) + '\n' : r.embedding.map((v) => v.toPrecision(7)).join(' ') + '\n');
      },
    )
    .demandCommand(1, 'Name a command: import or embed.')
    .fail((message, error) => {
      throw error ?? new Error(`${message} (see yarn identity --help)`);
    })
    .strict()
    .parseAsync();
});
