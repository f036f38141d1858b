/**
 * `yarn build-embedded [--output datasets/embedded] [--backend b]`: rebuilds the embedded face dataset from the
 * face photos inside the pinned @vladmandic/face-api and @vladmandic/human packages (see datasets/README.md).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, runCli, usageFailure, selectBackend, type BackendRequest } from '@faceshifter/core/node';
import { buildEmbedded } from '../data/embedded.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn build-embedded')
    .usage('$0 [--output datasets/embedded]\n\nRebuilds the embedded face dataset from the face photos inside the pinned npm packages.')
    .option('output', { type: 'string', default: 'datasets/embedded', describe: 'dataset folder to (re)write' })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend for detection' })
    .option('threads', THREADS_OPTION)
    .strict()
    .fail(usageFailure)
    .parse();
  await selectBackend(argv.backend, { threads: argv.threads });
  const s = await buildEmbedded(argv.output);
  process.stdout.write(`${s.faces} faces of ${s.identities} identities from ${s.photos} photos; ${s.skipped} skipped; ${s.manifest}\n`);
});

