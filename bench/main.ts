/**
 * `yarn bench [--backend b] [--json]`: the project's speed figures. Not a test: nothing here asserts a time.
 * Human-readable tables go to stdout; with --json, stdout carries exactly one JSON object.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, runCli, selectBackend, type BackendRequest } from '@faceshifter/core';
import { benchConv, CONV_CASES, type ConvResult } from './conv.js';
import { CLOCKS, type Clock } from './timing.js';
import { benchAeiForward256 } from './models.js';
import { benchIdentity } from './identity.js';
import { benchAeiTinyTrainStep } from './train.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn bench')
    .usage('$0 [--backend b] [--json]\n\nTimes the conv kernels (forward, input gradient, filter gradient) and one AEI-Net forward pass at 256², one aei-tiny training step and the identity encoders.')
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend to measure' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object instead of tables' })
    .option('runs', { type: 'number', default: 5, describe: 'timed runs per figure (the median is reported)' })
    .option('clock', { choices: CLOCKS, default: 'wall' as Clock, describe: 'conv figures in wall time, or process CPU time (steady on a shared machine; single-threaded backends only)' })
    .strict()
    .parse();

  const backend = await selectBackend(argv.backend);
  const conv: ConvResult[] = [];
  for (const c of CONV_CASES) conv.push(...(await benchConv(c, { runs: argv.runs, clock: argv.clock })));

  const aei = await benchAeiForward256({ warmup: 2, runs: 3, clock: argv.clock });
  const identity = await benchIdentity(4, { clock: argv.clock });
  const aeiTinyTrainStepMs = await benchAeiTinyTrainStep({ warmup: 2, runs: 5, clock: argv.clock });
  const report = { backend, clock: argv.clock, conv, aeiForward256Ms: aei.ms, aeiTinyTrainStepMs, identity };
  if (argv.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    console.log(`backend: ${backend}\n`);
    console.table(conv.map((r) => ({ case: r.name, pass: r.pass, ms: r.ms, 'GFLOP/s': r.gflops })));
    console.log(`AEI-Net forward, 256², batch 1, c_id 128: ${aei.ms} ms (encoder ${aei.encoderMs} ms, generator ${aei.generatorMs} ms; PyTorch, 1 core: 1300 ms)`);
    console.log(`AEI train step, aei-tiny (64², width ¼, batch 4, G + D + identity): ${aeiTinyTrainStepMs} ms (PyTorch, 1 core: ~170 ms)`);
    console.table(identity.map((r) => ({ 'identity encoder': r.name, 'ms/image fwd+input grad': r.msPerImage, 'ms/image fwd': r.forwardMsPerImage })));
  }
});
