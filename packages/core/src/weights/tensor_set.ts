/**
 * Matching a network's weights against the tensors of a safetensors file: every expected tensor present with
 * the right shape, nothing unexpected; then assigning them. Shared by the checkpoint format (our names and
 * layouts) and the reference import (PyTorch names and layouts).
 */
import * as tf from '@tensorflow/tfjs';
import type { SafetensorsEntry, SafetensorsFile } from './safetensors.js';

/** One tensor a network expects from a file. */
export interface ExpectedTensor {
  /** Name in the file (without any file-wide prefix). */
  name: string;
  /** Shape in the file's layout. */
  shape: readonly number[];
  /** The layout, for error messages: `PyTorch OIHW`, `tfjs HWIO`, ... (empty for vectors). */
  layout: string;
  /** Read when present, never required (PyTorch's num_batches_tracked). */
  optional?: boolean;
  /** Writes the file's values into the network; absent for tensors that are checked but not loaded. */
  assign?: (values: Float32Array) => void;
}

/** How many names an error lists before "(+N more)". */
const LIST_LIMIT = 5;

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, LIST_LIMIT).join(', ');
  return names.length > LIST_LIMIT ? `${shown} (+${names.length - LIST_LIMIT} more)` : shown;
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * Checks `file` against `expected` (names under `prefix`), then assigns every tensor. Nothing is written unless
 * everything matches. Errors are one line naming the file and the tensors:
 * - a wrong shape names the tensor, the expected and the actual shape and the layout;
 * - missing and unexpected tensors are listed (the first few and a count).
 * `what` describes the network for the messages, e.g. `the aei network (PyTorch reference layout)`.
 */
export function assignTensors(file: SafetensorsFile, expected: readonly ExpectedTensor[], options: { prefix?: string; what: string; hint?: string }): void {
  const prefix = options.prefix ?? '';
  const byName = new Map(expected.map((e) => [prefix + e.name, e]));
  const ownNames = [...file.tensors.keys()].filter((n) => n.startsWith(prefix) || prefix === '');
  const unexpected = ownNames.filter((n) => !byName.has(n));
  const missing = [...byName.entries()].filter(([n, e]) => !e.optional && !file.tensors.has(n)).map(([n]) => n);
  const hint = options.hint ? `; ${options.hint}` : '';
  if (missing.length > 0 || unexpected.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing ${missing.length} tensor(s) ${options.what} needs: ${listNames(missing)}`);
    if (unexpected.length > 0) parts.push(`${unexpected.length} unexpected tensor(s): ${listNames(unexpected)}`);
    throw new Error(`${file.source}: ${parts.join('; ')}${hint}`);
  }
  const entries: [SafetensorsEntry, ExpectedTensor][] = [];
  for (const [name, e] of byName) {
    const entry = file.tensors.get(name);
    if (!entry) continue;
    const same = entry.shape.length === e.shape.length && entry.shape.every((d, i) => d === e.shape[i]);
    if (!same) {
      throw new Error(
        `${file.source}: ${name}: expected ${shapeText(e.shape)}${e.layout ? ` (${e.layout})` : ''}, got ${shapeText(entry.shape)}${hint}`,
      );
    }
    if (e.assign && !FLOAT_DTYPES.has(entry.dtype)) {
      throw new Error(`${file.source}: ${name}: expected a floating-point tensor (F32, F16, BF16 or F64), got ${entry.dtype}`);
    }
    entries.push([entry, e]);
  }
  for (const [entry, e] of entries) e.assign?.(entry.toFloat32());
}

/** Writes values into a tfjs variable (shape already checked) without leaking the temporary tensor. */
export function writeVariable(variable: tf.LayerVariable, values: Float32Array, shape: readonly number[]): void {
  const t = tf.tensor(values, [...shape], 'float32');
  try {
    variable.write(t);
  } finally {
    t.dispose();
  }
}
