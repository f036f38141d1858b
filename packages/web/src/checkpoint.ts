import { IDENTITY_ENCODERS, identityEncoderNeedsWeights, type IdentityEncoderName } from '@faceshifter/core';
import { parse as parseYaml } from 'yaml';

/**
 * A checkpoint's files as the app gets them: from a folder the user picks (a run, `runs/<name>`, or one of its
 * checkpoints, `runs/<name>/checkpoints/step-N`), or from a URL next to the app (`?checkpoint=<url>`). Both end
 * as the same map of bytes that @faceshifter/core's checkpoint loader reads, so the browser loads exactly what
 * `yarn swap` loads from disk.
 */

/** The networks the app can swap with, by checkpoint network name. */
export type SwapNetwork = 'aei' | 'hearnet';

const NETWORK_TITLE: Record<SwapNetwork, string> = { aei: 'AEI-Net', hearnet: 'HEAR-Net' };
const A_NETWORK: Record<SwapNetwork, string> = { aei: 'an AEI-Net', hearnet: 'a HEAR-Net' };

export interface CheckpointPick {
  /** The folder's path inside the pick, or the URL: what the page shows and the PNG mark records. */
  label: string;
  /** The checkpoint's files by path relative to its folder (meta.json, config.yaml, <network>.safetensors). */
  files: Map<string, Uint8Array>;
  /** The run's config.yaml (the training config) when the pick or the URL gave it; it names the identity encoder. */
  runConfig: { label: string; text: string } | null;
}

/** A checkpoint that cannot be used; the message names the folder or file and the fix. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

interface CheckpointMetaLike {
  networks?: unknown;
  step?: unknown;
}

/** The files a swap needs from a checkpoint: the loader's two small files and the one network's weights. */
function neededFile(rel: string, network: SwapNetwork): boolean {
  return rel === 'meta.json' || rel === 'config.yaml' || rel === `${network}.safetensors`;
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

function parseMeta(bytes: Uint8Array): CheckpointMetaLike | null {
  try {
    const meta = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return meta && typeof meta === 'object' ? (meta as CheckpointMetaLike) : null;
  } catch {
    return null;
  }
}

function holds(meta: CheckpointMetaLike | null, network: SwapNetwork): boolean {
  return Array.isArray(meta?.networks) && meta.networks.includes(network);
}

function wrongKindHint(meta: CheckpointMetaLike | null, network: SwapNetwork): string {
  const held = Array.isArray(meta?.networks) ? meta.networks.join(', ') : 'no networks';
  const other: SwapNetwork = network === 'aei' ? 'hearnet' : 'aei';
  const swapHint = holds(meta, other) ? `; this is ${A_NETWORK[other]} checkpoint: open it as the ${NETWORK_TITLE[other]} checkpoint` : '';
  return `it holds ${held}${swapHint}`;
}

/**
 * The checkpoint inside a picked folder (an `<input webkitdirectory>` file list). A run folder holds several
 * checkpoints: the newest one holding `network` is taken (trainers name them step-<8 digits>, so names sort by step).
 */
export async function checkpointFromFolder(files: readonly File[], network: SwapNetwork): Promise<CheckpointPick> {
  const byPath = new Map(files.map((f) => [f.webkitRelativePath || f.name, f]));
  const picked = dirname([...byPath.keys()][0] ?? '').split('/')[0] || 'the folder';
  const metaPaths = [...byPath.keys()].filter((p) => p === 'meta.json' || p.endsWith('/meta.json')).sort();
  if (metaPaths.length === 0) {
    throw new CheckpointError(
      `${picked}: no checkpoint in this folder (no meta.json); open a run folder (runs/<name>) or one of its checkpoints (runs/<name>/checkpoints/step-N)`,
    );
  }
  const metas = await Promise.all(metaPaths.map(async (p) => ({ dir: dirname(p), meta: parseMeta(new Uint8Array(await byPath.get(p)!.arrayBuffer())) })));
  const usable = metas.filter((m) => holds(m.meta, network));
  // One checkpoint of the wrong kind, or unreadable: hand it to the loader only if it cannot be told apart here.
  if (usable.length === 0 && metas.length === 1 && metas[0]!.meta === null) usable.push(metas[0]!);
  const chosen = usable.at(-1);
  if (!chosen) {
    const first = metas[0]!;
    throw new CheckpointError(`${first.dir || picked}: not ${A_NETWORK[network]} checkpoint (${wrongKindHint(first.meta, network)})`);
  }
  const prefix = chosen.dir ? `${chosen.dir}/` : '';
  const contents = new Map<string, Uint8Array>();
  for (const [p, f] of byPath) {
    if (!p.startsWith(prefix)) continue;
    const rel = p.slice(prefix.length);
    if (neededFile(rel, network)) contents.set(rel, new Uint8Array(await f.arrayBuffer()));
  }
  // The run's config.yaml sits two levels above its checkpoints (runs/<name>/checkpoints/step-N).
  const runDir = dirname(dirname(chosen.dir));
  const runConfigPath = /\/checkpoints$/.test(dirname(chosen.dir)) ? `${runDir ? `${runDir}/` : ''}config.yaml` : null;
  const runConfigFile = runConfigPath ? byPath.get(runConfigPath) : undefined;
  return {
    label: chosen.dir || picked,
    files: contents,
    runConfig: runConfigFile ? { label: runConfigPath!, text: await runConfigFile.text() } : null,
  };
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new CheckpointError(`${url}: cannot fetch the ${what} (${e instanceof Error ? e.message : String(e)}); check the URL and that the files are served`);
  }
  if (!response.ok) throw new CheckpointError(`${url}: cannot fetch the ${what} (HTTP ${response.status}); check the URL and that the checkpoint's files are served there`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * A checkpoint served over HTTP: `url` is its folder. meta.json says which networks it holds; for a checkpoint of
 * a run (…/checkpoints/step-N) the run's config.yaml is read too, when it is served.
 */
export async function checkpointFromUrl(url: string, network: SwapNetwork): Promise<CheckpointPick> {
  const base = new URL(url.endsWith('/') ? url : `${url}/`, document.baseURI);
  const label = url.replace(/\/$/, '');
  const metaBytes = await fetchBytes(new URL('meta.json', base).href, 'checkpoint meta.json');
  const meta = parseMeta(metaBytes);
  if (meta && !holds(meta, network)) throw new CheckpointError(`${label}: not ${A_NETWORK[network]} checkpoint (${wrongKindHint(meta, network)})`);
  const files = new Map<string, Uint8Array>([['meta.json', metaBytes]]);
  for (const rel of ['config.yaml', `${network}.safetensors`]) files.set(rel, await fetchBytes(new URL(rel, base).href, `checkpoint file ${rel}`));
  let runConfig: CheckpointPick['runConfig'] = null;
  if (/\/checkpoints\/[^/]+\/$/.test(base.pathname)) {
    const runUrl = new URL('../../config.yaml', base).href;
    const response = await fetch(runUrl).catch(() => null);
    if (response?.ok) runConfig = { label: runUrl, text: await response.text() };
  }
  return { label, files, runConfig };
}

/**
 * The identity encoder a run was trained with, as `yarn swap` finds it: `identity.encoder` of the run's
 * config.yaml; without one, the training default.
 */
export const DEFAULT_IDENTITY_ENCODER: IdentityEncoderName = 'face-api-recognition-centred';

export function trainedIdentityEncoder(runConfig: CheckpointPick['runConfig']): { name: IdentityEncoderName; from: string } {
  if (!runConfig) return { name: DEFAULT_IDENTITY_ENCODER, from: 'the default: no run config.yaml was opened' };
  let doc: unknown;
  try {
    doc = parseYaml(runConfig.text);
  } catch (e) {
    throw new CheckpointError(`${runConfig.label}: not valid YAML (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); fix or remove the run's config.yaml`);
  }
  const encoder = (doc as { identity?: { encoder?: unknown } } | null)?.identity?.encoder;
  if (encoder === undefined) return { name: DEFAULT_IDENTITY_ENCODER, from: `${runConfig.label} (no identity.encoder: the default)` };
  if (typeof encoder !== 'string' || !IDENTITY_ENCODERS.includes(encoder as IdentityEncoderName)) {
    throw new CheckpointError(`${runConfig.label}: identity.encoder ${JSON.stringify(encoder)} is not an encoder this tool knows (${IDENTITY_ENCODERS.join(', ')})`);
  }
  if (identityEncoderNeedsWeights(encoder as IdentityEncoderName)) {
    throw new CheckpointError(
      `${runConfig.label}: identity.encoder '${encoder}' needs PyTorch weights the web app does not load; swap with \`yarn swap\` in Node, or use a checkpoint trained with a packaged encoder (face-api-recognition-centred, human-faceres)`,
    );
  }
  return { name: encoder as IdentityEncoderName, from: runConfig.label };
}
