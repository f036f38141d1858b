import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { listDatasetItems } from '@faceshifter/train';
import seedrandom from 'seedrandom';

/** One (X_s, X_t) evaluation pair: absolute image paths and identity labels (for ID retrieval). */
export interface EvalPair {
  source: string;
  target: string;
  sourceIdentity: string;
  targetIdentity: string;
}

/**
 * Reads a pairs file: a CSV with a header holding `source` and `target` (image paths relative to the CSV's
 * folder), and optionally `source_identity` / `target_identity` (default: the image path, i.e. each image its own
 * identity). Every image must exist; errors name the file, line and fix.
 */
export async function readPairsCsv(file: string): Promise<EvalPair[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new Error(`${file}: cannot read the pairs file; pass --pairs <csv> with columns source,target.`);
  }
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[];
  } catch (e) {
    throw new Error(`${file}: not a valid CSV (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); write a header line 'source,target' and one pair per line.`);
  }
  const header = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0]!.split(',').map((h) => h.trim());
  for (const col of ['source', 'target']) {
    if (!header.includes(col)) throw new Error(`${file} line 1: missing column '${col}' (header is '${header.join(',')}'); the header must name 'source,target' (image paths relative to the CSV).`);
  }
  if (records.length === 0) throw new Error(`${file}: no pairs; add lines 'source.png,target.png' under the header.`);
  const root = path.dirname(path.resolve(file));
  const pairs: EvalPair[] = [];
  for (const [i, r] of records.entries()) {
    const line = i + 2;
    const resolved: Record<'source' | 'target', string> = { source: '', target: '' };
    for (const col of ['source', 'target'] as const) {
      const rel = r[col] ?? '';
      if (!rel) throw new Error(`${file} line ${line}: empty '${col}'; give an image path relative to ${root}.`);
      const abs = path.resolve(root, rel);
      try {
        await fs.access(abs);
      } catch {
        throw new Error(`${file} line ${line}: ${col} image '${rel}' not found (looked at ${abs}); fix the path, relative to the CSV's folder.`);
      }
      resolved[col] = abs;
    }
    pairs.push({
      ...resolved,
      sourceIdentity: r.source_identity || resolved.source,
      targetIdentity: r.target_identity || resolved.target,
    });
  }
  return pairs;
}

/**
 * Pairs from a prepared dataset: every image once as X_t, with X_s drawn (seeded) from the images of another
 * identity. Deterministic for a given dataset and seed.
 */
export async function datasetPairs(dataset: string, seed = 0): Promise<EvalPair[]> {
  const items = await listDatasetItems(dataset);
  const identities = new Set(items.map((i) => i.identity));
  if (identities.size < 2) throw new Error(`Dataset ${dataset} has ${identities.size} identit${identities.size === 1 ? 'y' : 'ies'}; swap pairs need at least two.`);
  const rand = seedrandom(String(seed));
  return items.map((t) => {
    const others = items.filter((s) => s.identity !== t.identity);
    const s = others[Math.floor(rand() * others.length)]!;
    return { source: s.file, target: t.file, sourceIdentity: s.identity, targetIdentity: t.identity };
  });
}
