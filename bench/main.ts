/**
 * `yarn bench [--backend b] [--json]`: the project's speed figures. Not a test: nothing here asserts a time.
 * Human-readable tables go to stdout; with --json, stdout carries exactly one JSON object.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, runCli, selectBackend, type BackendRequest } from '@faceshifter/core';
import { benchConv, CONV_CASES, type ConvResult } from './conv.js';
import { benchAeiForward256 } from './models.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn bench')
    .usage('$0 [--backend b] [--json]\n\nTimes the conv kernels (forward, input gradient, filter gradient) and one AEI-Net forward pass at 256².')
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend to measure' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object instead of tables' })
    .option('runs', { type: 'number', default: 5, describe: 'timed runs per figure (the median is reported)' })
    .strict()
    .parse();

  const backend = await selectBackend(argv.backend);
  const conv: ConvResult[] = [];
  for (const c of CONV_CASES) conv.push(...(await benchConv(c, { runs: argv.runs })));

  const aei = await benchAeiForward256();
  const report = { backend, conv, aeiForward256Ms: aei.ms };
  if (argv.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    console.log(`backend: ${backend}\n`);
    console.table(conv.map((r) => ({ case: r.name, pass: r.pass, ms: r.ms, 'GFLOP/s': r.gflops })));
    console.log(`AEI-Net forward, 256², batch 1, c_id 128: ${aei.ms} ms (encoder ${aei.encoderMs} ms, generator ${aei.generatorMs} ms; PyTorch, 1 core: 1300 ms)`);
  }
});
