/** Config files on disk: the YAML parsing and validation are environment-neutral (config/model_config.ts). */
import { readFileSync } from 'node:fs';
import { modelConfigFromYaml, parseYamlText, type ModelConfig } from '../config/model_config.js';

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read config file ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Reads and parses a YAML config file; a syntax error is one line naming the file and position. */
export function readYamlFile(file: string): unknown {
  return parseYamlText(readText(file), file);
}

/** The validated model section of a YAML config file; errors name the file and the key path. */
export function loadModelConfig(file: string): ModelConfig {
  return modelConfigFromYaml(readText(file), file);
}
