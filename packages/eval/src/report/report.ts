import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { encodePng, resizeImage, writeFileAtomic, type RawImage } from '@faceshifter/core/node';
import type { EvalResult, EvalSummary, PairResult } from '../metrics/evaluate.js';

const f = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : 'nan');

/** The summary as a text table: mean and 95% bootstrap interval per metric. */
export function formatSummary(s: EvalSummary): string {
  const rows: [string, EvalSummary['idRetrieval'], number][] = [
    ['ID retrieval top-1 (%) ↑', s.idRetrieval, 1],
    [`ID similarity (${s.idNetwork} cos) ↑`, s.idSimilarity, 3],
    ['pose error (deg) ↓', s.poseError, 2],
    ['expression error (% IOD) ↓', s.expressionError, 2],
  ];
  const lines = [`method ${s.method}: ${s.pairs} pairs, ${s.identities} identities in the gallery, ${s.resolution} px, ID network ${s.idNetwork}`, ''];
  lines.push(`${'metric'.padEnd(32)}${'mean'.padStart(9)}   95% CI`);
  for (const [name, m, d] of rows) lines.push(`${name.padEnd(32)}${f(m.mean, d).padStart(9)}   [${f(m.lo, d)}, ${f(m.hi, d)}]`);
  return lines.join('\n');
}

/** One CSV row per pair. */
export function rowsToCsv(rows: readonly PairResult[], root = process.cwd()): string {
  const rel = (p: string): string => path.relative(root, p) || p;
  return stringify(
    rows.map((r) => ({
      index: r.index,
      source: rel(r.source),
      target: rel(r.target),
      source_identity: r.sourceIdentity,
      target_identity: r.targetIdentity,
      id_similarity: f(r.idSimilarity, 4),
      retrieved: r.retrieved,
      retrieval_hit: r.retrievalHit,
      pose_error_deg: f(r.poseError, 3),
      expression_error_iod_pct: f(r.expressionError, 3),
      swap_yaw: f(r.swapPose.yaw),
      swap_pitch: f(r.swapPose.pitch),
      swap_roll: f(r.swapPose.roll),
      target_yaw: f(r.targetPose.yaw),
      target_pitch: f(r.targetPose.pitch),
      target_roll: f(r.targetPose.roll),
    })),
    { header: true },
  );
}

/** The best and worst pairs by ID similarity (ties keep pair order), at most `k` each, without repeats. */
export function bestAndWorst(rows: readonly PairResult[], k = 3): { best: PairResult[]; worst: PairResult[] } {
  const sorted = [...rows].sort((a, b) => b.idSimilarity - a.idSimilarity || a.index - b.index);
  const n = Math.min(k, Math.floor(sorted.length / 2) || sorted.length);
  const best = sorted.slice(0, n);
  const worst = sorted.slice(-n).reverse().filter((r) => !best.includes(r));
  return { best, worst };
}

/**
 * The contact sheet: one row per selected pair, source | target | swap, `cell` px each, a 4 px gap; best pairs
 * first, then the worst. Text is not drawn: the metrics of each row are in sheet.json beside it.
 */
export async function contactSheet(rows: readonly PairResult[], images: (r: PairResult) => Promise<[RawImage, RawImage, RawImage]>, cell = 128): Promise<RawImage> {
  const gap = 4;
  const width = 3 * cell + 4 * gap;
  const height = rows.length * (cell + gap) + gap;
  const data = new Uint8Array(width * height * 3).fill(255);
  for (const [i, r] of rows.entries()) {
    const trio = await images(r);
    for (const [j, im] of trio.entries()) {
      const small = im.width === cell && im.height === cell ? im : await resizeImage(im, cell, cell);
      const x0 = gap + j * (cell + gap);
      const y0 = gap + i * (cell + gap);
      for (let y = 0; y < cell; y++) {
        data.set(small.data.subarray(y * cell * 3, (y + 1) * cell * 3), ((y0 + y) * width + x0) * 3);
      }
    }
  }
  return { width, height, channels: 3, data };
}

/**
 * Writes <out>/report.csv (one row per pair), <out>/report.json (the summary), <out>/sheet.png (best and worst
 * pairs) and <out>/sheet.json (their metrics), each atomically.
 */
export async function writeReport(
  out: string,
  result: EvalResult,
  load: (file: string) => Promise<RawImage>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await writeFileAtomic(path.join(out, 'report.csv'), rowsToCsv(result.rows));
  await writeFileAtomic(path.join(out, 'report.json'), JSON.stringify({ ...extra, summary: result.summary }, null, 2) + '\n');
  const { best, worst } = bestAndWorst(result.rows);
  const picked = [...best, ...worst];
  const sheet = await contactSheet(picked, async (r) => [await load(r.source), await load(r.target), result.swaps[r.index]!]);
  const text: Record<string, string> = { Software: 'faceshifter-ts yarn eval', Description: 'source | target | swap; best pairs by ID similarity first, then the worst' };
  if (result.summary.method === 'model') text['Synthetic'] = 'true: contains AI-generated face swaps';
  await writeFileAtomic(path.join(out, 'sheet.png'), encodePng(sheet, text));
  await writeFileAtomic(
    path.join(out, 'sheet.json'),
    JSON.stringify(
      {
        columns: ['source', 'target', 'swap'],
        rows: picked.map((r, i) => ({
          row: i,
          kind: i < best.length ? 'best' : 'worst',
          pair: r.index,
          source: path.relative(process.cwd(), r.source),
          target: path.relative(process.cwd(), r.target),
          idSimilarity: r.idSimilarity,
          retrievalHit: r.retrievalHit,
          poseError: r.poseError,
          expressionError: r.expressionError,
        })),
      },
      null,
      2,
    ) + '\n',
  );
}
