import readme from '../../../README.md?raw';
import { expectIdentityWeights, expectReferenceNetwork, formatSummary, isFaceAlignment, type RawImage, type SafetensorsFile } from '@faceshifter/core';
import { checkpointFromFolder, checkpointFromUrl, type CheckpointPick } from './checkpoint.js';
import { decodePhoto, type RgbImage } from './photo.js';
import {
  BACKEND_CHOICES,
  SwapSession,
  WEB_REFERENCE_NAMES,
  type Analysed,
  type BackendChoice,
  type DetectorKind,
  type OpenedNetwork,
  type PickedWeights,
} from './session.js';
import type { ClipProgress } from './video.js';
import { videoSupportProblem, webVideoMark } from './video_support.js';
import { readWeights, yieldToPage, type ReadProgress } from './weights_reader.js';

/** The page: wires the controls of index.html to a SwapSession. Every action runs one at a time, in order. */

type Role = 'source' | 'target';
/** The PyTorch reference's files: its generator (G_latest.pth), identity network (model_ir_se50.pth), HEAR-Net. */
type RefSlot = 'generator' | 'identity' | 'hear';
const REF_SLOTS: readonly RefSlot[] = ['generator', 'identity', 'hear'];

interface Photo {
  name: string;
  image: RgbImage;
  analysed: Analysed | null;
  /** Source: the face whose identity is used. Target: the face swapped, 'all', or null until the user chooses. */
  face: number | 'all' | null;
  /** How long finding its faces took (the first photo also loads and warms up the detector). */
  detectMs: number | null;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
};

const ui = {
  checkpointFolder: $<HTMLInputElement>('checkpoint-folder'),
  hearFolder: $<HTMLInputElement>('hear-folder'),
  hearRemove: $<HTMLButtonElement>('hear-remove'),
  checkpointStatus: $('checkpoint-status'),
  weightsProgress: $<HTMLProgressElement>('weights-progress'),
  weightsStatus: $('weights-status'),
  reference: (slot: RefSlot) => ({
    file: $<HTMLInputElement>(`ref-${slot}-file`),
    drop: $(`ref-${slot}-drop`),
    name: $(`ref-${slot}-name`),
  }),
  summary: $('summary'),
  summaryBody: $('summary-table').querySelector('tbody')!,
  summaryLayers: $('summary-layers'),
  runConfigTitle: $('run-config-title'),
  runConfig: $('run-config'),
  backend: $<HTMLSelectElement>('backend'),
  detector: $<HTMLSelectElement>('detector'),
  align: $<HTMLSelectElement>('align'),
  alignNote: $('align-note'),
  backendUsed: $('backend-used'),
  swap: $<HTMLButtonElement>('swap'),
  download: $<HTMLAnchorElement>('download'),
  resultCanvas: $<HTMLCanvasElement>('result-canvas'),
  resultInfo: $('result-info'),
  message: $('message'),
  busy: $('busy'),
  video: {
    support: $('video-support'),
    file: $<HTMLInputElement>('video-file'),
    drop: $('video-drop'),
    name: $('video-name'),
    detectEvery: $<HTMLInputElement>('video-detect-every'),
    swap: $<HTMLButtonElement>('video-swap'),
    cancel: $<HTMLButtonElement>('video-cancel'),
    progress: $<HTMLProgressElement>('video-progress'),
    status: $('video-status'),
    download: $<HTMLAnchorElement>('video-download'),
    result: $<HTMLVideoElement>('video-result'),
  },
  role: (role: Role) => ({
    file: $<HTMLInputElement>(`${role}-file`),
    drop: $(`${role}-drop`),
    canvas: $<HTMLCanvasElement>(`${role}-canvas`),
    info: $(`${role}-info`),
    faceLabel: $(`${role}-face-label`),
    face: $<HTMLSelectElement>(`${role}-face`),
  }),
};

const session = new SwapSession((line) => console.info(line));
const photos: Record<Role, Photo | null> = { source: null, target: null };
let downloadUrl: string | null = null;

// ---- messages and the action queue -------------------------------------------------------------------------

function showMessage(text: string | null, kind: 'error' | 'info' = 'error'): void {
  ui.message.hidden = text === null;
  ui.message.textContent = text ?? '';
  ui.message.className = kind;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

let queue: Promise<void> = Promise.resolve();
let pending = 0;
/** How many actions are queued or running, on <body data-pending> (tests wait for 0). */
function setPending(delta: number): void {
  pending += delta;
  document.body.dataset.pending = String(pending);
}

/** Runs `action` after the ones before it; its error becomes the page's message. */
function run(label: string, action: () => Promise<void>): Promise<void> {
  setPending(1);
  queue = queue.then(async () => {
    ui.busy.textContent = `${label}…`;
    updateSwapButton();
    try {
      await action();
    } catch (e) {
      // Shown on the page; the console keeps the stack. A warning, not an error: bad input is expected.
      // A read replaced by a newer pick ends quietly: the newer one is queued behind it.
      if (e instanceof DOMException && e.name === 'AbortError') return;
      console.warn(e);
      showMessage(errorText(e));
    } finally {
      ui.busy.textContent = '';
      setPending(-1);
      updateSwapButton();
    }
  });
  return queue;
}

// ---- drawing --------------------------------------------------------------------------------------------------

function drawImage(canvas: HTMLCanvasElement, image: RawImage, analysed?: Analysed | null, chosen?: number | 'all' | null): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d')!;
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let p = 0, n = image.width * image.height; p < n; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = image.data[p * image.channels + (image.channels >= 3 ? c : 0)]!;
    rgba[p * 4 + 3] = 255;
  }
  ctx.putImageData(new ImageData(rgba, image.width, image.height), 0, 0);
  if (!analysed || analysed.faces.length < 2) return;
  const line = Math.max(2, Math.round(image.width / 300));
  ctx.font = `bold ${line * 9}px system-ui, sans-serif`;
  analysed.faces.forEach((f, i) => {
    const on = chosen === 'all' || chosen === i;
    ctx.strokeStyle = on ? '#35d07f' : '#ffd24a';
    ctx.lineWidth = on ? line * 2 : line;
    ctx.strokeRect(f.box.x, f.box.y, f.box.width, f.box.height);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(String(i), f.box.x + line * 2, f.box.y - line * 2 > line * 9 ? f.box.y - line * 2 : f.box.y + line * 10);
  });
}

function redraw(role: Role): void {
  const photo = photos[role];
  if (photo) drawImage(ui.role(role).canvas, photo.image, photo.analysed, photo.face);
}

// ---- checkpoint -------------------------------------------------------------------------------------------------

const fmt = (n: number): string => n.toLocaleString('en-US');

function describeOpened(title: string, opened: OpenedNetwork<unknown>): string {
  return `${title} ${opened.label} (${opened.config.resolution} px, ${opened.step === null ? 'reference layout' : `step ${opened.step}`})`;
}

/**
 * The alignment line: which one swaps use, and one warning when it is not the model's own (as `yarn swap --align`
 * warns): a model sees faces cropped as it was trained, and another crop gives a worse swap.
 */
function renderAlignment(): void {
  const chosen = ui.align.value;
  session.setAlignment(isFaceAlignment(chosen) ? chosen : null);
  const own = session.aei?.faces.align;
  ui.alignNote.textContent = !own
    ? ''
    : isFaceAlignment(chosen) && chosen !== own
      ? `aligning faces as ${chosen}, but the model was trained on ${own} crops: expect a worse swap`
      : `faces aligned as ${own}, as the model was trained`;
}

function renderSummary(): void {
  renderAlignment();
  const aei = session.aei;
  ui.summary.hidden = !aei;
  if (!aei) return;
  const rows: { title: string; from: string; trainable: number; nonTrainable: number }[] = [];
  const layers: string[] = [];
  for (const opened of [aei, session.hear]) {
    if (!opened) continue;
    for (const { title, summary } of opened.summaries) {
      rows.push({ title, from: opened.label, trainable: summary.trainable, nonTrainable: summary.nonTrainable });
      layers.push(formatSummary(title, summary));
    }
  }
  ui.summaryBody.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      for (const [text, cls] of [[r.title, ''], [r.from, ''], [fmt(r.trainable), 'num'], [fmt(r.nonTrainable), 'num']] as const) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }),
  );
  ui.summaryLayers.textContent = layers.join('\n');
  ui.runConfigTitle.textContent = aei.configView.title;
  ui.runConfig.textContent = aei.configView.text;
  const parts = [describeOpened('AEI-Net', aei), `identity encoder ${aei.identity.name} (${aei.identity.from})`];
  if (session.hear) parts.push(describeOpened('HEAR-Net', session.hear));
  ui.checkpointStatus.textContent = parts.join('; ');
  ui.hearRemove.hidden = !session.hear;
}

async function openCheckpoint(load: () => Promise<CheckpointPick>, kind: 'aei' | 'hearnet'): Promise<void> {
  showMessage(null);
  const source = await load();
  if (kind === 'aei') await session.openAEI(source);
  else await session.openHEAR(source);
  renderSummary();
  await analysePhotos();
}

// ---- the reference's .pth files ---------------------------------------------------------------------------------

const REF_TITLE: Record<RefSlot, string> = { generator: 'AEI-Net generator', identity: 'identity network', hear: 'HEAR-Net' };
/** The files picked in each field (kept as File handles: a file is read again only when it must be rebuilt). */
const refPicks: Record<RefSlot, File | null> = { generator: null, identity: null, hear: null };
/** Files read and parsed but not yet built into networks (released once built, so 170 MB are not held twice). */
const refParsed = new Map<RefSlot, { file: File; parsed: SafetensorsFile }>();
/** The generator and identity files the open AEI-Net was built from. */
let refBuilt: { generator: File; identity: File; aei: unknown } | null = null;
/** Each field's open in progress: a newer pick in the same field aborts it (picks in other fields queue behind it). */
const refAbort = new Map<RefSlot, AbortController>();

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function showProgress(text: string | null, fraction?: number): void {
  ui.weightsProgress.hidden = fraction === undefined;
  if (fraction !== undefined) ui.weightsProgress.value = fraction;
  ui.weightsStatus.textContent = text ?? '';
}

function reportRead(slot: RefSlot, file: File, p: ReadProgress): void {
  if (p.phase === 'reading') {
    showProgress(`Reading the ${REF_TITLE[slot]} ${file.name}: ${mb(p.read)} of ${mb(p.total)} (${p.total ? Math.floor((100 * p.read) / p.total) : 100}%)`, p.total ? p.read / p.total : 1);
    ui.reference(slot).name.dataset.read = String(p.read);
  } else {
    showProgress(`Parsing ${file.name} (${mb(p.total)})\u2026`);
  }
}

/** Checks right after parsing that a field got the kind of file it takes, so a mix-up is said before any build. */
function checkKind(slot: RefSlot, parsed: SafetensorsFile): void {
  const n = WEB_REFERENCE_NAMES;
  if (slot === 'identity') expectIdentityWeights(parsed, n);
  else if (slot === 'generator') {
    expectReferenceNetwork(parsed, 'aei', n.generator, {
      identity: `open it in ${n.identity} and the generator (G_latest.pth) in ${n.generator}`,
      hearnet: `open it in ${n.hear} and the generator (G_latest.pth) in ${n.generator}`,
      discriminator: `a swap needs the generator: open G_latest.pth (not D_latest.pth) in ${n.generator}`,
    });
  } else {
    expectReferenceNetwork(parsed, 'hearnet', n.hear, { aei: `it is a generator: open it in ${n.generator}`, identity: `open it in ${n.identity}` });
  }
}

async function readSlot(slot: RefSlot, signal: AbortSignal): Promise<PickedWeights> {
  const file = refPicks[slot]!;
  const cached = refParsed.get(slot);
  if (cached?.file === file) return { label: file.name, file: cached.parsed };
  const parsed = await readWeights(file, (p) => reportRead(slot, file, p), signal);
  signal.throwIfAborted();
  checkKind(slot, parsed);
  refParsed.set(slot, { file, parsed });
  return { label: file.name, file: parsed };
}

function renderReferenceNames(): void {
  for (const slot of REF_SLOTS) {
    const f = refPicks[slot];
    const el = ui.reference(slot).name;
    el.textContent = f ? `${f.name} (${mb(f.size)})` : slot === 'hear' ? 'optional; or drop it here' : 'or drop it here';
    if (!f) delete el.dataset.read;
  }
}

/** Opens what the fields hold after a pick in `slot`; on a refused file the field goes back to `previous`. */
async function openReference(slot: RefSlot, signal: AbortSignal, previous: File | null): Promise<void> {
  showMessage(null);
  const picked = refPicks[slot];
  try {
    try {
      await readSlot(slot, signal);
    } catch (e) {
      // The field keeps no file it cannot use: it holds the one before again (unless a newer pick came meanwhile).
      if (!(e instanceof DOMException && e.name === 'AbortError') && refPicks[slot] === picked) {
        refPicks[slot] = previous;
        renderReferenceNames();
      }
      throw e;
    }
    const { generator, identity } = refPicks;
    const pairChanged = generator && identity && !(refBuilt && refBuilt.generator === generator && refBuilt.identity === identity && refBuilt.aei === session.aei);
    if (pairChanged) {
      const g = await readSlot('generator', signal);
      const id = await readSlot('identity', signal);
      showProgress(`Building AEI-Net from ${g.label} and the identity network from ${id.label}\u2026`);
      await yieldToPage();
      signal.throwIfAborted();
      const opened = await session.openReferenceAEI(g, id);
      refBuilt = { generator, identity, aei: opened };
      refParsed.delete('generator');
      refParsed.delete('identity');
    }
    if (refPicks.hear && (pairChanged || slot === 'hear') && session.aei) {
      const h = await readSlot('hear', signal);
      showProgress(`Building HEAR-Net from ${h.label}\u2026`);
      await yieldToPage();
      signal.throwIfAborted();
      session.openReferenceHEAR(h);
      refParsed.delete('hear');
    }
    if (!generator || !identity) {
      const missing = !generator ? `${REF_TITLE.generator} (G_latest.pth)` : `${REF_TITLE.identity} (model_ir_se50.pth)`;
      showProgress(`${refPicks[slot]!.name} read; now open the ${missing}`);
      return;
    }
    showProgress(null);
    renderSummary();
    clearResult();
    await analysePhotos();
  } finally {
    if (ui.weightsStatus.textContent?.endsWith('\u2026') || !ui.weightsProgress.hidden) showProgress(null);
  }
}

function pickReference(slot: RefSlot, file: File): void {
  refAbort.get(slot)?.abort();
  const controller = new AbortController();
  refAbort.set(slot, controller);
  const previous = refPicks[slot];
  refPicks[slot] = file;
  refParsed.delete(slot);
  renderReferenceNames();
  void run(`Opening ${file.name}`, () => openReference(slot, controller.signal, previous));
}

/** A file input and its drop zone, each handing the picked or dropped file to `onFile` (the input is reset, so the same file can be picked again). */
function wireFilePick(input: HTMLInputElement, drop: HTMLElement, onFile: (file: File) => void): void {
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) onFile(file);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('dragover');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragover'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragover');
    const file = e.dataTransfer?.files[0];
    if (file) onFile(file);
  });
}

function wireReference(slot: RefSlot): void {
  const el = ui.reference(slot);
  wireFilePick(el.file, el.drop, (file) => pickReference(slot, file));
}

// ---- photos ------------------------------------------------------------------------------------------------------

function describeFace(analysed: Analysed, i: number): string {
  const b = analysed.faces[i]!.box;
  const where = analysed.faces.length > 1 ? (i === 0 ? ', leftmost' : i === analysed.faces.length - 1 ? ', rightmost' : '') : '';
  return `face ${i}${where}: ${Math.round(b.width)}\u00d7${Math.round(b.height)} px at (${Math.round(b.x)}, ${Math.round(b.y)})`;
}

function largestFace(analysed: Analysed): number {
  const area = (i: number): number => analysed.faces[i]!.box.width * analysed.faces[i]!.box.height;
  return analysed.faces.reduce((best, _, i) => (area(i) > area(best) ? i : best), 0);
}

function renderFaces(role: Role): void {
  const photo = photos[role];
  const el = ui.role(role);
  const analysed = photo?.analysed;
  el.faceLabel.hidden = !analysed || analysed.faces.length < 2;
  if (!photo) return;
  const size = `${photo.image.width}\u00d7${photo.image.height}`;
  if (!analysed) {
    el.info.textContent = `${photo.name} (${size}); faces are found once a checkpoint is open`;
    return;
  }
  const n = analysed.faces.length;
  el.info.textContent = `${photo.name} (${size}): ${n === 0 ? 'no face' : n === 1 ? '1 face' : `${n} faces, numbered left to right`}`;
  if (n >= 2) {
    const options: [string, string][] = [];
    if (role === 'target' && photo.face === null) options.push(['', 'choose a face…']);
    analysed.faces.forEach((_, i) => options.push([String(i), describeFace(analysed, i)]));
    if (role === 'target') options.push(['all', 'all faces']);
    el.face.replaceChildren(
      ...options.map(([value, text]) => {
        const o = document.createElement('option');
        o.value = value;
        o.textContent = text;
        return o;
      }),
    );
    el.face.value = photo.face === null ? '' : String(photo.face);
  }
  redraw(role);
}

/** The message for a photo whose faces do not allow a swap as chosen; null when it is fine. */
function faceProblem(role: Role): string | null {
  const photo = photos[role];
  const a = photo?.analysed;
  if (!photo || !a) return null;
  if (a.faces.length === 0) {
    return `${photo.name}: no face found in the ${role} photo; use a photo with a clearly visible, roughly frontal face${ui.detector.value === 'tiny' ? ', or try the SSD detector' : ''}`;
  }
  if (role === 'target' && photo.face === null) {
    return `${photo.name}: ${a.faces.length} faces found in the target photo; choose the face to swap (numbered left to right), or all faces`;
  }
  return null;
}

function showFaceProblems(): void {
  const problems = (['source', 'target'] as const).map(faceProblem).filter((p): p is string => p !== null);
  showMessage(problems.length ? problems.join('\n') : null, problems.some((p) => p.includes('no face')) ? 'error' : 'info');
}

async function analysePhoto(role: Role): Promise<void> {
  const photo = photos[role];
  if (!photo || !session.aei) return;
  const start = performance.now();
  photo.analysed = await session.analyse(photo.name, photo.image, ui.detector.value as DetectorKind);
  photo.detectMs = performance.now() - start;
  ui.role(role).info.dataset.ms = photo.detectMs.toFixed(1);
  const n = photo.analysed.faces.length;
  photo.face = n === 0 ? null : n === 1 ? 0 : role === 'source' ? largestFace(photo.analysed) : null;
  renderFaces(role);
}

async function analysePhotos(): Promise<void> {
  for (const role of ['source', 'target'] as const) await analysePhoto(role);
  showFaceProblems();
}

async function setPhoto(role: Role, file: File): Promise<void> {
  showMessage(null);
  photos[role] = null;
  const el = ui.role(role);
  el.info.textContent = '';
  el.faceLabel.hidden = true;
  el.canvas.width = el.canvas.height = 0;
  clearResult();
  const image = await decodePhoto(file, role);
  photos[role] = { name: file.name, image, analysed: null, face: null, detectMs: null };
  redraw(role);
  renderFaces(role);
  await analysePhoto(role);
  showFaceProblems();
}

// ---- swap ------------------------------------------------------------------------------------------------------------

function clearResult(): void {
  ui.resultCanvas.width = ui.resultCanvas.height = 0;
  ui.resultInfo.textContent = '';
  ui.download.hidden = true;
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;
}

function updateSwapButton(): void {
  const ready = (role: Role): boolean => {
    const p = photos[role];
    return !!p?.analysed && p.analysed.faces.length > 0 && p.face !== null;
  };
  ui.swap.disabled = pending > 0 || !session.aei || !ready('source') || !ready('target');
  ui.video.swap.disabled = pending > 0 || !session.aei || !ready('source') || !clip || videoProblem !== null;
}

async function swap(): Promise<void> {
  showMessage(null);
  const source = photos.source;
  const target = photos.target;
  if (!session.aei) throw new Error('Open an AEI-Net checkpoint first (a run folder, or one of its checkpoints).');
  if (!source?.analysed || !target?.analysed) throw new Error('Choose a source photo and a target photo first.');
  const problem = faceProblem('source') ?? faceProblem('target');
  if (problem) throw new Error(problem);
  clearResult();
  const out = await session.swap(source.analysed, source.face as number, target.analysed, target.face!, ui.detector.value as DetectorKind);
  drawImage(ui.resultCanvas, out.image);
  const method = session.hear ? 'AEI-Net + HEAR-Net' : 'AEI-Net';
  const detection = (['source', 'target'] as const).map((r) => `${r} ${Math.round(photos[r]!.detectMs ?? 0)} ms`).join(', ');
  ui.resultInfo.textContent = `${method} on ${session.backend}: ${Math.round(out.ms)} ms (face detection: ${detection}); face${out.swapped.length > 1 ? 's' : ''} ${out.swapped.join(', ')} of ${target.name}`;
  ui.resultInfo.dataset.ms = out.ms.toFixed(1);
  ui.resultInfo.dataset.backend = session.backend ?? '';
  downloadUrl = URL.createObjectURL(new Blob([out.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
  ui.download.href = downloadUrl;
  ui.download.download = `${target.name.replace(/\.[^.]*$/, '')}__${source.name.replace(/\.[^.]*$/, '')}.swap.png`;
  ui.download.hidden = false;
}

// ---- clip -----------------------------------------------------------------------------------------------------------

/** The clip picked or dropped, its swap in progress (Cancel aborts it), the WebM's object URL. */
let clip: File | null = null;
let clipAbort: AbortController | null = null;
let clipUrl: string | null = null;
/** When Cancel was clicked (performance.now()), for the time it took to stop (on #video-status data-cancel-ms). */
let cancelClicked = 0;
/** The one line saying what this browser lacks for clips (null: nothing). */
const videoProblem = videoSupportProblem();

function clearClipResult(): void {
  ui.video.download.hidden = true;
  ui.video.result.hidden = true;
  ui.video.result.removeAttribute('src');
  if (clipUrl) URL.revokeObjectURL(clipUrl);
  clipUrl = null;
}

function pickClip(file: File): void {
  clip = file;
  clearClipResult();
  ui.video.name.textContent = `${file.name} (${(file.size / 1e6).toFixed(2)} MB)`;
  ui.video.status.textContent = '';
  updateSwapButton();
}

function showClipProgress(p: ClipProgress, started: number): void {
  // Tracking is the first half of the bar, swapping the second.
  const done = (p.phase === 'tracking' ? 0 : p.frames) + p.frame;
  ui.video.progress.hidden = false;
  ui.video.progress.value = done / (2 * p.frames);
  const s = (performance.now() - started) / 1000;
  const rate = done / s;
  const eta = rate > 0 ? (2 * p.frames - done) / rate : 0;
  ui.video.status.textContent = `${p.phase === 'tracking' ? 'Finding the face tracks' : 'Swapping'}: frame ${p.frame} of ${p.frames} (${rate.toFixed(1)} frames/s, about ${Math.ceil(eta)} s left)`;
  ui.video.status.dataset.phase = p.phase;
  ui.video.status.dataset.frame = String(p.frame);
}

async function swapVideo(): Promise<void> {
  showMessage(null);
  const source = photos.source;
  if (videoProblem) throw new Error(videoProblem);
  if (!session.aei) throw new Error('Open an AEI-Net checkpoint first (a run folder, or one of its checkpoints).');
  if (!source?.analysed) throw new Error('Choose a source photo first: its face is put into the clip.');
  const problem = faceProblem('source');
  if (problem) throw new Error(problem);
  if (!clip) throw new Error('Choose a clip first.');
  const file = clip;
  clearClipResult();
  const every = Number(ui.video.detectEvery.value);
  if (!Number.isInteger(every) || every < 1) throw new Error(`Detect faces every ${ui.video.detectEvery.value} frames: expected a whole number, 1 or more`);
  const detectorKind = ui.detector.value as DetectorKind;
  const pipeline = await session.pipeline(detectorKind);
  const { swapClip } = await import('./video.js');
  const controller = new AbortController();
  clipAbort = controller;
  ui.video.cancel.hidden = false;
  ui.video.cancel.disabled = false;
  const started = performance.now();
  const zId = pipeline.sourceIdentity(source.analysed, source.face as number);
  try {
    const mark = webVideoMark({ checkpoint: session.aei.label, hear: session.hear?.label ?? null, source: source.name, target: file.name });
    const r = await swapClip({ clip: file, pipeline, zId, detectorKind, detectEvery: every, mark, signal: controller.signal, onProgress: (p) => showClipProgress(p, started) });
    const wall = (performance.now() - started) / 1000;
    clipUrl = URL.createObjectURL(new Blob([r.webm as Uint8Array<ArrayBuffer>], { type: 'video/webm' }));
    ui.video.download.href = clipUrl;
    ui.video.download.download = `${file.name.replace(/\.[^.]*$/, '')}__${source.name.replace(/\.[^.]*$/, '')}.swap.webm`;
    ui.video.download.hidden = false;
    ui.video.result.src = clipUrl;
    ui.video.result.hidden = false;
    ui.video.status.textContent =
      `${r.swapped} of ${r.frames} frames swapped, ${r.lost} passed through (face not found); ${r.width}\u00d7${r.height}, ${r.fps.toFixed(2)} fps, ` +
      `${r.codec.toUpperCase()} WebM, audio ${r.audio}; ${r.tracks} face track${r.tracks === 1 ? '' : 's'}; ${wall.toFixed(1)} s (tracking ${r.seconds.track.toFixed(1)} s, swap and encode ${r.seconds.swap.toFixed(1)} s) on ${session.backend}`;
    ui.video.status.dataset.result = JSON.stringify({ frames: r.frames, swapped: r.swapped, lost: r.lost, width: r.width, height: r.height, fps: r.fps, codec: r.codec, tracks: r.tracks, wall, seconds: r.seconds });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') {
      ui.video.status.textContent = `Cancelled; nothing was written.`;
      ui.video.status.dataset.cancelled = 'true';
      ui.video.status.dataset.cancelMs = (performance.now() - cancelClicked).toFixed(0);
      return;
    }
    ui.video.status.textContent = '';
    throw e;
  } finally {
    zId.dispose();
    clipAbort = null;
    ui.video.cancel.hidden = true;
    ui.video.progress.hidden = true;
  }
}

function wireVideo(): void {
  if (videoProblem) {
    ui.video.support.textContent = videoProblem;
    ui.video.support.hidden = false;
  }
  wireFilePick(ui.video.file, ui.video.drop, pickClip);
  ui.video.swap.addEventListener('click', () => void run('Swapping the clip', swapVideo));
  ui.video.cancel.addEventListener('click', () => {
    cancelClicked = performance.now();
    ui.video.cancel.disabled = true;
    ui.video.status.textContent = 'Cancelling\u2026';
    clipAbort?.abort();
  });
}

// ---- backend -------------------------------------------------------------------------------------------------------

async function useBackend(choice: BackendChoice): Promise<void> {
  ui.backendUsed.textContent = `backend: starting ${choice}…`;
  try {
    const name = await session.useBackend(choice);
    ui.backendUsed.textContent = `backend: ${name}${choice === 'auto' ? ' (auto)' : ''}`;
    ui.backendUsed.dataset.backend = name;
  } catch (e) {
    ui.backendUsed.textContent = `backend: ${session.backend ?? 'none'}`;
    throw e;
  }
}

// ---- wiring ----------------------------------------------------------------------------------------------------------

function responsibleUseHtml(markdown: string): string {
  const section = /(?:^|\n)## Responsible use\n+([\s\S]*?)(?=\n## |(?![\s\S]))/.exec(markdown)?.[1]?.trim() ?? '';
  const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return section
    .split(/\n{2,}/)
    .map((para) => `<p>${escape(para.replace(/\n/g, ' ')).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>`)
    .join('');
}

function wirePhoto(role: Role): void {
  const el = ui.role(role);
  wireFilePick(el.file, el.drop, (file) => void run(`Reading the ${role} photo`, () => setPhoto(role, file)));
  el.face.addEventListener('change', () => {
    const photo = photos[role];
    if (!photo) return;
    photo.face = el.face.value === 'all' ? 'all' : el.face.value === '' ? null : Number(el.face.value);
    renderFaces(role);
    showFaceProblems();
    updateSwapButton();
  });
  // Clicking a face's box on the photo chooses it.
  el.canvas.addEventListener('click', (e) => {
    const photo = photos[role];
    if (!photo?.analysed || photo.analysed.faces.length < 2) return;
    const r = el.canvas.getBoundingClientRect();
    const x = ((e.clientX - r.left) * el.canvas.width) / r.width;
    const y = ((e.clientY - r.top) * el.canvas.height) / r.height;
    const i = photo.analysed.faces.findIndex((f) => x >= f.box.x && x <= f.box.x + f.box.width && y >= f.box.y && y <= f.box.y + f.box.height);
    if (i < 0) return;
    el.face.value = String(i);
    el.face.dispatchEvent(new Event('change'));
  });
}

function main(): void {
  setPending(0);
  $('responsible-use-text').innerHTML = responsibleUseHtml(readme);
  const params = new URLSearchParams(location.search);
  const backend = params.get('backend') ?? 'auto';
  ui.backend.value = (BACKEND_CHOICES as readonly string[]).includes(backend) ? backend : 'auto';
  if (params.get('detector') === 'tiny') ui.detector.value = 'tiny';
  const align = params.get('align');
  if (align && isFaceAlignment(align)) ui.align.value = align;

  ui.checkpointFolder.addEventListener('change', () => {
    const files = [...(ui.checkpointFolder.files ?? [])];
    ui.checkpointFolder.value = '';
    if (files.length) void run('Opening the AEI-Net checkpoint', () => openCheckpoint(() => checkpointFromFolder(files, 'aei'), 'aei'));
  });
  ui.hearFolder.addEventListener('change', () => {
    const files = [...(ui.hearFolder.files ?? [])];
    ui.hearFolder.value = '';
    if (files.length) void run('Opening the HEAR-Net checkpoint', () => openCheckpoint(() => checkpointFromFolder(files, 'hearnet'), 'hearnet'));
  });
  ui.hearRemove.addEventListener('click', () => {
    session.closeHEAR();
    refPicks.hear = null;
    refParsed.delete('hear');
    renderReferenceNames();
    renderSummary();
    clearResult();
  });
  ui.backend.addEventListener('change', () => void run('Switching the backend', () => useBackend(ui.backend.value as BackendChoice)));
  ui.detector.addEventListener('change', () => void run('Finding faces', () => analysePhotos()));
  ui.align.addEventListener('change', () => {
    renderAlignment();
    clearResult();
  });
  ui.swap.addEventListener('click', () => void run('Swapping', swap));
  wirePhoto('source');
  wirePhoto('target');
  wireVideo();
  for (const slot of REF_SLOTS) wireReference(slot);
  renderReferenceNames();

  void run('Starting the backend', () => useBackend(ui.backend.value as BackendChoice));
  const checkpoint = params.get('checkpoint');
  const hear = params.get('hear');
  if (checkpoint) void run('Opening the AEI-Net checkpoint', () => openCheckpoint(() => checkpointFromUrl(checkpoint, 'aei'), 'aei'));
  if (hear) void run('Opening the HEAR-Net checkpoint', () => openCheckpoint(() => checkpointFromUrl(hear, 'hearnet'), 'hearnet'));
}

main();
