/**
 * `yarn bench [--backend b] [--json]`: the project's speed figures. Not a test: nothing here asserts a time.
 * Human-readable tables go to stdout; with --json, stdout carries exactly one JSON object.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, currentWebGPUAdapter, runCli, selectBackend, type BackendRequest } from '@faceshifter/core/node';
import { benchConv, CONV_CASES, type ConvResult } from './conv.js';
import { CLOCKS, type Clock } from './timing.js';
import { benchAeiForward256 } from './models.js';
import { benchIdentity } from './identity.js';
import { benchAei256TrainStep, benchAeiTinyTrainStep } from './train.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn bench')
    .usage('$0 [--backend b] [--json]\n\nTimes the conv kernels (forward, input gradient, filter gradient) and one AEI-Net forward pass at 256², one aei-tiny training step and the identity encoders.')
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend to measure' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object instead of tables' })
    .option('runs', { type: 'number', default: 5, describe: 'timed runs per figure (the median is reported)' })
    .option('aei256-step', {
      type: 'boolean',
      describe: 'also time one paper-preset AEI step at 256², batch 2 (aei256TrainStepMs); default on for GPU backends (webgpu, tensorflow)',
    })
    .option('clock', { choices: CLOCKS, default: 'wall' as Clock, describe: 'conv figures in wall time, or process CPU time (steady on a shared machine; single-threaded backends only)' })
    .strict()
    .parse();

  const backend = await selectBackend(argv.backend);
  // Figures on an emulated adapter (SwiftShader, llvmpipe) are CPU emulation: marked, never GPU speed.
  const adapter = backend === 'webgpu' ? await currentWebGPUAdapter() : null;
  const progress = (figure: string, value: unknown): void => void process.stderr.write(`[bench] ${figure}: ${JSON.stringify(value)}\n`);
  const conv: ConvResult[] = [];
  for (const c of CONV_CASES) {
    const results = await benchConv(c, { runs: argv.runs, clock: argv.clock });
    results.forEach((r) => progress(`${r.name} ${r.pass}`, r.ms));
    conv.push(...results);
  }

  const aei = await benchAeiForward256({ warmup: argv.runs > 1 ? 2 : 1, runs: Math.min(3, argv.runs), clock: argv.clock });
  progress('aeiForward256Ms', aei.ms);
  const identity = await benchIdentity(4, { clock: argv.clock });
  progress('identity', identity);
  const aeiTinyTrainStepMs = await benchAeiTinyTrainStep({ warmup: argv.runs > 1 ? 2 : 1, runs: argv.runs, clock: argv.clock });
  progress('aeiTinyTrainStepMs', aeiTinyTrainStepMs);
  const wants256 = argv['aei256-step'] ?? (backend === 'webgpu' || backend === 'tensorflow');
  const aei256TrainStepMs = wants256 ? await benchAei256TrainStep({ warmup: 1, runs: Math.min(3, argv.runs), clock: argv.clock }) : null;
  if (wants256) progress('aei256TrainStepMs', aei256TrainStepMs);
  const report = {
    backend,
    ...(adapter ? { adapter, emulated: adapter.emulated } : {}),
    clock: argv.clock,
    conv,
    aeiForward256Ms: aei.ms,
    aeiTinyTrainStepMs,
    aei256TrainStepMs,
    identity,
  };
  if (argv.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    console.log(`backend: ${backend}${adapter ? `, adapter ${adapter.vendor} ${adapter.architecture}${adapter.emulated ? ' (EMULATED on the CPU: not GPU speed)' : ''}` : ''}\n`);
    console.table(conv.map((r) => ({ case: r.name, pass: r.pass, ms: r.ms, 'GFLOP/s': r.gflops })));
    console.log(`AEI-Net forward, 256², batch 1, c_id 128: ${aei.ms} ms (encoder ${aei.encoderMs} ms, generator ${aei.generatorMs} ms; PyTorch, 1 core: 1300 ms)`);
    console.log(`AEI train step, aei-tiny (64², width ¼, batch 4, G + D + identity): ${aeiTinyTrainStepMs} ms (PyTorch, 1 core: ~170 ms)`);
    if (aei256TrainStepMs !== null) console.log(`AEI train step, paper preset (256², batch 2, G + D + identity): ${aei256TrainStepMs} ms`);
    console.table(identity.map((r) => ({ 'identity encoder': r.name, 'ms/image fwd+input grad': r.msPerImage, 'ms/image fwd': r.forwardMsPerImage })));
  }
});
