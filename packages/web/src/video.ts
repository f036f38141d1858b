import {
  boxOf,
  chooseTrack,
  ClipFaceTracker,
  DEFAULT_ONE_EURO,
  smoothTrackLandmarks,
  type DetectedFace,
  type FaceSwapPipeline,
  type FaceTrack,
  type RawImage,
} from '@faceshifter/core';
import type * as tf from '@tensorflow/tfjs';
import {
  ALL_FORMATS,
  BlobSource,
  BufferTarget,
  CanvasSink,
  Conversion,
  getFirstEncodableVideoCodec,
  Input,
  Output,
  QUALITY_HIGH,
  VideoSample,
  WebMOutputFormat,
  type VideoCodec,
} from 'mediabunny';
import { toRgb } from './photo.js';
import { videoSupportProblem } from './video_support.js';

/**
 * A clip's face swapped frame by frame in the page, the steps `yarn swap --video` takes (eval video/swap_video.ts),
 * with WebCodecs for decoding and encoding and mediabunny for reading the container and writing the WebM:
 * 1. **Tracks.** The clip is decoded once; faces are detected every `detectEvery` frames and, in between, the
 *    landmark net runs in each live face's last box. Core's FaceTracker links them into tracks; chooseTrack picks
 *    the person (the longest track).
 * 2. **Swap.** The clip is decoded again; the chosen track's landmarks, smoothed with core's One-Euro filter (the
 *    whole track is known, as in Node, but the filter is causal), place each frame's face, which
 *    FaceSwapPipeline.swapFace swaps and pastes back. Frames without the face pass through unchanged. Frames are
 *    encoded (VP9, else VP8) at the input's timestamps, so the frame count, size and rate are kept; the audio track
 *    is re-encoded to Opus where the browser can. The WebM's tags carry the synthetic mark.
 * Everything runs on the page's thread (the networks live there) and hands the event loop back between steps, so
 * the page keeps painting and the Cancel button works; a cancel stops between frames and leaves no output.
 */

export interface ClipProgress {
  phase: 'tracking' | 'swapping';
  /** Frames done in this phase, and the clip's frame count (from the container's index). */
  frame: number;
  frames: number;
}

export interface ClipSwapOptions {
  clip: Blob & { name: string };
  pipeline: FaceSwapPipeline;
  zId: tf.Tensor2D;
  detectorKind: 'ssd' | 'tiny';
  /** Detect every N frames, landmarks only in between; default 1. */
  detectEvery?: number;
  mark: Record<string, string>;
  onProgress?: (p: ClipProgress) => void;
  signal?: AbortSignal;
}

export interface ClipSwapResult {
  webm: Uint8Array;
  mimeType: string;
  codec: VideoCodec;
  width: number;
  height: number;
  frames: number;
  swapped: number;
  /** Frames where the chosen person's face was not found, passed through unchanged. */
  lost: number;
  tracks: number;
  fps: number;
  audio: 'opus' | 'none' | string;
  seconds: { track: number; swap: number };
}

/**
 * The WebM's tags as global tags in ffmpeg's reading. mediabunny writes the tags (a Matroska Tag whose Targets are
 * TargetTypeValue 50 and TargetType "MOVIE", which the spec reads as the whole file), and ffmpeg prefixes every
 * tag with a TargetType it finds ("MOVIE/faceshifter:synthetic"). The TargetType element (8 bytes: ID 63 CA, size 5,
 * "MOVIE") is overwritten in place by an EBML Void element of the same 8 bytes (ID EC, size 6, zeros), so no size or
 * offset in the file changes; TargetTypeValue 50 still says "the whole file", and ffprobe and `yarn swap --inspect`
 * see the same keys as in the MP4 that `yarn swap --video` writes. Returns whether it found the element.
 */
export function globalWebmTags(webm: Uint8Array): boolean {
  const find = (pattern: number[], from: number, to: number): number => {
    outer: for (let i = from; i + pattern.length <= to; i++) {
      for (let j = 0; j < pattern.length; j++) if (webm[i + j] !== pattern[j]) continue outer;
      return i;
    }
    return -1;
  };
  const TAGS = [0x12, 0x54, 0xc3, 0x67];
  const TARGET_TYPE = [0x63, 0xca, 0x85, 0x4d, 0x4f, 0x56, 0x49, 0x45];
  for (let tags = find(TAGS, 0, webm.length); tags >= 0; tags = find(TAGS, tags + 1, webm.length)) {
    // Tags (4-byte ID, a size of up to 8 bytes), Tag (2-byte ID, size), Targets (2-byte ID, size), then its children.
    const at = find(TARGET_TYPE, tags + 4, Math.min(webm.length, tags + 48));
    if (at < 0) continue;
    webm.set([0xec, 0x86, 0, 0, 0, 0, 0, 0], at);
    return true;
  }
  return false;
}

/** A clip the page cannot swap; the message names the file and the fix. */
export class ClipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClipError';
  }
}

/** Hands the event loop back (a macrotask), so the page paints and handles clicks between frames. */
const yieldToPage = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

function abortError(): DOMException {
  return new DOMException('The clip swap was cancelled', 'AbortError');
}

type Canvas2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

function rgbOf(ctx: Canvas2D, width: number, height: number): RawImage & { channels: 3 } {
  const { data } = ctx.getImageData(0, 0, width, height);
  return toRgb({ width, height, channels: 4, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
}

function putRgb(ctx: OffscreenCanvasRenderingContext2D, image: RawImage): void {
  const n = image.width * image.height;
  const rgba = new Uint8ClampedArray(n * 4);
  for (let p = 0; p < n; p++) {
    rgba[p * 4] = image.data[p * 3]!;
    rgba[p * 4 + 1] = image.data[p * 3 + 1]!;
    rgba[p * 4 + 2] = image.data[p * 3 + 2]!;
    rgba[p * 4 + 3] = 255;
  }
  ctx.putImageData(new ImageData(rgba, image.width, image.height), 0, 0);
}

async function openClip(clip: ClipSwapOptions['clip']): Promise<{ input: Input; track: NonNullable<Awaited<ReturnType<Input['getPrimaryVideoTrack']>>> }> {
  const input = new Input({ source: new BlobSource(clip), formats: ALL_FORMATS });
  let track;
  try {
    track = await input.getPrimaryVideoTrack();
  } catch {
    input.dispose();
    throw new ClipError(`${clip.name}: not a video this page can read (MP4, MOV, WebM, MKV, Ogg); pick a video file`);
  }
  if (!track) {
    input.dispose();
    throw new ClipError(`${clip.name}: the file has no video track; pick a video file`);
  }
  if (!(await track.canDecode())) {
    const codec = track.codec ?? (await track.getCodecParameterString()) ?? 'unknown';
    input.dispose();
    throw new ClipError(`${clip.name}: this browser cannot decode its ${codec} video (WebCodecs VideoDecoder); convert it to H.264 or VP9, or use yarn swap --video`);
  }
  return { input, track };
}

/** Pass 1: the clip's face tracks (swap_video.ts's trackFaces). */
async function trackFaces(o: ClipSwapOptions, frames: number): Promise<{ tracks: FaceTrack[]; frames: number }> {
  const { input, track } = await openClip(o.clip);
  const tracker = new ClipFaceTracker(o.pipeline.detector, { detectEvery: o.detectEvery ?? 1, detectorKind: o.detectorKind });
  try {
    const sink = new CanvasSink(track, { poolSize: 2 });
    for await (const wrapped of sink.canvases()) {
      o.signal?.throwIfAborted();
      const canvas = wrapped.canvas;
      const ctx = canvas.getContext('2d', { willReadFrequently: true }) as Canvas2D | null;
      if (!ctx) throw new Error('no 2D canvas in this browser');
      await tracker.next(rgbOf(ctx, canvas.width, canvas.height));
      o.onProgress?.({ phase: 'tracking', frame: tracker.frames, frames });
      await yieldToPage();
    }
  } catch (e) {
    if (o.signal?.aborted) throw abortError();
    throw e;
  } finally {
    input.dispose();
  }
  o.signal?.throwIfAborted();
  return { tracks: tracker.tracks(), frames: tracker.frames };
}

/** Swaps the clip's most present face to the identity `zId`; returns the marked WebM. Throws AbortError on cancel. */
export async function swapClip(o: ClipSwapOptions): Promise<ClipSwapResult> {
  const problem = videoSupportProblem();
  if (problem) throw new ClipError(problem);
  const probe = await openClip(o.clip);
  let width: number;
  let height: number;
  let frames: number;
  let fps: number;
  try {
    width = await probe.track.getDisplayWidth();
    height = await probe.track.getDisplayHeight();
    const stats = await probe.track.computePacketStats();
    frames = stats.packetCount;
    fps = stats.averagePacketRate;
  } finally {
    probe.input.dispose();
  }
  if (frames === 0) throw new ClipError(`${o.clip.name}: the clip has no frames; pick another clip`);
  const codec = await getFirstEncodableVideoCodec(['vp9', 'vp8'], { width, height });
  if (!codec) throw new ClipError(`Clip swapping is off: this browser's WebCodecs VideoEncoder encodes neither VP9 nor VP8 at ${width}\u00d7${height}; use Chromium or Chrome 94+, or yarn swap --video.`);

  const t0 = performance.now();
  const pass = await trackFaces(o, frames);
  if (pass.frames === 0) throw new ClipError(`${o.clip.name}: no frame could be decoded; the file may be truncated`);
  frames = pass.frames;
  let chosen: FaceTrack;
  try {
    chosen = chooseTrack(pass.tracks, 'auto');
  } catch (e) {
    throw new ClipError(`${o.clip.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const landmarks = smoothTrackLandmarks(chosen, frames, fps, DEFAULT_ONE_EURO);
  const tTrack = (performance.now() - t0) / 1000;

  const t1 = performance.now();
  const { input } = await openClip(o.clip);
  const target = new BufferTarget();
  const output = new Output({ format: new WebMOutputFormat(), target });
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas in this browser');
  let k = 0;
  let swapped = 0;
  let lost = 0;
  let conversion: Conversion | null = null;
  const onAbort = (): void => void conversion?.cancel();
  o.signal?.addEventListener('abort', onAbort);
  try {
    conversion = await Conversion.init({
      input,
      output,
      video: {
        codec,
        quality: QUALITY_HIGH,
        forceTranscode: true,
        // Rotation is baked into the frames, as the tracking pass saw them.
        allowTransformationMetadata: false,
        process: async (sample: VideoSample) => {
          if (o.signal?.aborted) return null;
          ctx.clearRect(0, 0, width, height);
          sample.draw(ctx, 0, 0, width, height);
          const five = landmarks.five[k];
          if (five) {
            const frame = rgbOf(ctx, width, height);
            const face: DetectedFace = { box: boxOf(five), score: 1, detector: o.detectorKind, landmarks5: five, landmarks68: landmarks.sixtyEight[k] ?? [] };
            const r = await o.pipeline.swapFace(o.zId, frame, face);
            putRgb(ctx, r.image);
            swapped++;
          } else {
            lost++;
          }
          k++;
          o.onProgress?.({ phase: 'swapping', frame: k, frames });
          await yieldToPage();
          return new VideoSample(canvas, { timestamp: sample.timestamp, duration: sample.duration });
        },
      },
      audio: { codec: 'opus' },
      tags: { raw: o.mark },
      showWarnings: false,
    });
    if (!conversion.isValid) {
      const reasons = conversion.discardedTracks.map((d) => `${d.track.type}: ${d.reason}`).join(', ');
      throw new ClipError(`${o.clip.name}: cannot be re-encoded here (${reasons}); use yarn swap --video`);
    }
    const audio = conversion.utilizedTracks.some((t) => t.type === 'audio') ? 'opus' : conversion.discardedTracks.some((d) => d.track.type === 'audio') ? `dropped (${conversion.discardedTracks.find((d) => d.track.type === 'audio')!.reason})` : 'none';
    await conversion.execute();
    if (o.signal?.aborted) throw abortError();
    if (k !== frames) throw new ClipError(`${o.clip.name}: the second read gave ${k} frames, the first ${frames}`);
    const webm = new Uint8Array(target.buffer!);
    if (!globalWebmTags(webm)) throw new Error('the WebM written has no tags element: the synthetic mark is missing');
    return {
      webm,
      mimeType: await output.getMimeType(),
      codec,
      width,
      height,
      frames: k,
      swapped,
      lost,
      tracks: pass.tracks.length,
      fps,
      audio,
      seconds: { track: tTrack, swap: (performance.now() - t1) / 1000 },
    };
  } catch (e) {
    if (o.signal?.aborted) throw abortError();
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    if (conversion && conversion.state !== 'done' && conversion.state !== 'canceled') await conversion.cancel().catch(() => {});
    input.dispose();
  }
}
