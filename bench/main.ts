/**
 * `yarn bench [--backend b] [--threads N] [--json] [--figures a,b] [--budget-s N]`: the project's speed figures. Not a test:
 * nothing here asserts a time. Human-readable tables go to stdout; with --json, stdout carries exactly one JSON object.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, currentWebGPUAdapter, runCli, selectBackend, type BackendRequest } from '@faceshifter/core/node';
import { runFigureInChild } from './budget.js';
import { FIGURE_NAMES, FIGURES, type FigureName, type FigureValues } from './figures.js';
import { CLOCKS, type Clock } from './timing.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn bench')
    .usage('$0 [--backend b] [--json]\n\nTimes the conv kernels (forward, input gradient, filter gradient) and one AEI-Net forward pass at 256², one aei-tiny training step and the identity encoders.')
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend to measure' })
    .option('threads', THREADS_OPTION)
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object instead of tables' })
    .option('runs', { type: 'number', default: 5, describe: 'timed runs per figure (the median is reported)' })
    .option('aei256-step', {
      type: 'boolean',
      describe: 'also time one paper-preset AEI step at 256², batch 2 (aei256TrainStepMs); default on for GPU backends (webgpu, tensorflow)',
    })
    .option('figures', { type: 'string', describe: `only these figures, comma-separated (${FIGURE_NAMES.join(', ')})` })
    .option('budget-s', {
      type: 'number',
      describe: 'wall-clock budget per figure, in seconds: each figure runs in its own process and one over budget is recorded as not measured (for emulated adapters, where one figure can take hours)',
    })
    .option('clock', { choices: CLOCKS, default: 'wall' as Clock, describe: 'conv figures in wall time, or process CPU time (steady on a shared machine; single-threaded backends only)' })
    .check((a) => {
      const unknown = (a.figures ?? '').split(',').filter((f) => f !== '' && !(FIGURE_NAMES as readonly string[]).includes(f));
      if (unknown.length) throw new Error(`--figures: unknown figure ${unknown.join(', ')}; choose from ${FIGURE_NAMES.join(', ')}`);
      if (a['budget-s'] !== undefined && !(a['budget-s'] > 0)) throw new Error('--budget-s: expected a positive number of seconds');
      if (!(a.runs >= 1)) throw new Error('--runs: expected at least 1');
      if (a.clock === 'cpu' && (a.threads ?? 1) > 1) throw new Error('--clock cpu sums the time of every thread; time --threads above 1 with --clock wall');
      return true;
    })
    .strict()
    .parse();

  const backend = await selectBackend(argv.backend, { threads: argv.threads });
  // The count that runs (wasm), so that figures at different counts are never confused.
  const threads = backend === 'wasm' ? (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount() : null;
  if (argv.clock === 'cpu' && threads !== null && threads > 1) throw new Error('--clock cpu sums the time of every thread; time more than 1 thread with --clock wall');
  // Figures on an emulated adapter (SwiftShader, llvmpipe) are CPU emulation: marked, never GPU speed.
  const adapter = backend === 'webgpu' ? await currentWebGPUAdapter() : null;
  const progress = (figure: string, value: unknown): void => void process.stderr.write(`[bench] ${figure}: ${JSON.stringify(value)}\n`);
  const wants256 = argv['aei256-step'] ?? (backend === 'webgpu' || backend === 'tensorflow');
  const figures: FigureName[] = argv.figures
    ? (argv.figures.split(',').filter((f) => f !== '') as FigureName[])
    : FIGURE_NAMES.filter((f) => f !== 'aei256TrainStepMs' || wants256);
  const options = { runs: argv.runs, clock: argv.clock };
  const budgetS = argv['budget-s'];

  const values: FigureValues = {};
  const notMeasured: Partial<Record<FigureName, string>> = {};
  for (const name of FIGURE_NAMES) if (!figures.includes(name)) notMeasured[name] = argv.figures ? 'not in --figures' : 'off (--aei256-step)';
  for (const name of figures) {
    if (budgetS === undefined) {
      Object.assign(values, await FIGURES[name](options, progress));
      continue;
    }
    const started = performance.now();
    const outcome = await runFigureInChild(name, { backend, threads, runs: argv.runs, clock: argv.clock, budgetS });
    if ('values' in outcome) Object.assign(values, pick(outcome.values, name));
    else {
      notMeasured[name] = outcome.notMeasured;
      progress(name, `not measured: ${outcome.notMeasured}`);
    }
    progress(`${name} wall`, `${Math.round((performance.now() - started) / 1000)} s`);
  }

  const report = {
    backend,
    ...(threads !== null ? { threads } : {}),
    ...(adapter ? { adapter, emulated: adapter.emulated } : {}),
    clock: argv.clock,
    runs: argv.runs,
    ...(budgetS !== undefined ? { budgetS } : {}),
    conv: values.conv ?? null,
    aeiForward256Ms: values.aeiForward256Ms ?? null,
    ...(values.aeiForward256 ? { aeiForward256: values.aeiForward256 } : {}),
    aeiTinyTrainStepMs: values.aeiTinyTrainStepMs ?? null,
    aei256TrainStepMs: values.aei256TrainStepMs ?? null,
    identity: values.identity ?? null,
    videoSwapFps: values.videoSwapFps ?? null,
    ...(Object.keys(notMeasured).length ? { notMeasured } : {}),
  };
  if (argv.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const ms = (v: number | null, name: FigureName): string => (v !== null ? `${v} ms` : `not measured (${notMeasured[name] ?? 'not asked for'})`);
  console.log(`backend: ${backend}${threads !== null ? ` (${threads} thread${threads === 1 ? '' : 's'})` : ''}${adapter ? `, adapter ${adapter.vendor} ${adapter.architecture}${adapter.emulated ? ' (EMULATED on the CPU: not GPU speed)' : ''}` : ''}\n`);
  if (report.conv) console.table(report.conv.map((r) => ({ case: r.name, pass: r.pass, ms: r.ms, 'GFLOP/s': r.gflops })));
  const halves = values.aeiForward256 ? ` (encoder ${values.aeiForward256.encoderMs} ms, generator ${values.aeiForward256.generatorMs} ms)` : '';
  console.log(`AEI-Net forward, 256², batch 1, c_id 128: ${ms(report.aeiForward256Ms, 'aeiForward256Ms')}${halves}; PyTorch, 1 core: 1300 ms`);
  console.log(`AEI train step, aei-tiny (64², width ¼, batch 4, G + D + identity): ${ms(report.aeiTinyTrainStepMs, 'aeiTinyTrainStepMs')}; PyTorch, 1 core: ~170 ms`);
  if (figures.includes('aei256TrainStepMs')) console.log(`AEI train step, paper preset (256², batch 2, G + D + identity): ${ms(report.aei256TrainStepMs, 'aei256TrainStepMs')}`);
  if (report.videoSwapFps) {
    console.log('yarn swap --video (192×144 clip; ms per frame by stage, both passes; decode is read twice):');
    console.table(report.videoSwapFps.map((r) => ({ model: r.model, 'detect every': r.detectEvery, frames: r.frames, fps: r.fps, ...r.msPerFrame })));
  }
  if (report.identity) console.table(report.identity.map((r) => ({ 'identity encoder': r.name, 'ms/image fwd+input grad': r.msPerImage, 'ms/image fwd': r.forwardMsPerImage })));
});

/** The fields a figure owns, from a child's report. */
function pick(report: FigureValues, name: FigureName): FigureValues {
  if (name === 'aeiForward256Ms') return { aeiForward256Ms: report.aeiForward256Ms, aeiForward256: report.aeiForward256 };
  return { [name]: report[name] } as FigureValues;
}
