/**
 * `yarn model-summary --config <yaml> [--json] [--backend b]`: the layers, output shapes and parameter counts of
 * AEI-Net's encoder and generator, HEAR-Net and the multi-scale discriminator of a config's `model:` section.
 * The networks are built with zero weights (nothing is drawn, nothing runs forward) and disposed one by one.
 * With --json, stdout carries exactly {"cId", "encoder", "generator", "hearnet", "discriminator"} (trainable counts).
 */
import * as tf from '@tensorflow/tfjs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
// From the Node entry, which installs Node's platform adapters: without them wasm would run on one thread.
import { BACKEND_CHOICES, THREADS_OPTION, selectBackend, type BackendRequest } from '../index.js';
import { loadModelConfig } from '../config_files.js';
import { formatSummary, NETWORK_TITLES, SUMMARIZED_NETWORKS, summarizeModelConfig } from '../../models/summary.js';
import { runCli, usageFailure } from './run_cli.js';

const fmt = (n: number): string => n.toLocaleString('en-US');

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn model-summary')
    .usage('$0 --config <yaml> [--json] [--backend b]\n\nLayers and parameter counts of the networks of a config file.')
    .option('config', { type: 'string', demandOption: true, describe: "YAML config file with a 'model:' section" })
    .option('json', { type: 'boolean', default: false, describe: 'print only the trainable counts as one JSON object' })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .option('threads', THREADS_OPTION)
    .strict()
    .fail(usageFailure)
    .parse();

  await selectBackend(argv.backend, { threads: argv.threads });
  const config = loadModelConfig(argv.config);
  const summaries = summarizeModelConfig(config);
  if (argv.json) {
    const counts = Object.fromEntries(SUMMARIZED_NETWORKS.map((k) => [k, summaries[k].trainable]));
    process.stdout.write(JSON.stringify({ cId: config.cId, ...counts }) + '\n');
    return;
  }
  const titles = NETWORK_TITLES;
  console.log(`config: ${argv.config}  resolution ${config.resolution}, width ${config.widthMultiplier}, c_id ${config.cId}, backend ${tf.getBackend()}\n`);
  for (const k of SUMMARIZED_NETWORKS) console.log(formatSummary(titles[k], summaries[k]));
  console.log('Trainable parameters');
  for (const k of SUMMARIZED_NETWORKS) console.log(`  ${titles[k].padEnd(31)} ${fmt(summaries[k].trainable).padStart(13)}`);
  console.log(`  ${'AEI-Net (encoder + generator)'.padEnd(31)} ${fmt(summaries.encoder.trainable + summaries.generator.trainable).padStart(13)}`);
});
