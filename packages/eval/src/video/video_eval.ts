/**
 * `yarn eval --videos DIR --frames-per-video 10`: the paper's FaceForensics++ protocol. Ten evenly spaced frames of
 * each video are detected and aligned; each frame of video i is a target, and the frame at the same position of
 * video i + 1 (cyclically) its source, so every pair crosses two videos (two people, in FF++'s originals). The
 * pairs then feed the photo metrics unchanged (ID retrieval, pose, expression), with one identity per video.
 *
 * Besides: the temporal stability of the swap (metrics/temporal.ts) on a run of consecutive frames from the middle
 * of each video, which ten spaced frames cannot show.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  alignFaceAs,
  applyAffine,
  decodeImage,
  encodePng,
  faceMask,
  writeFileAtomic,
  type DetectedFace,
  type FaceAlignment,
  type FaceDetector,
  type RawImage,
} from '@faceshifter/core/node';
import type { EvalPair } from '../metrics/pairs.js';
import type { SwapFn } from '../metrics/evaluate.js';
import { TemporalStabilityMeter, type TemporalStability } from '../metrics/temporal.js';
import { decodeFrames, probeVideo, type VideoInfo } from './ffmpeg.js';

export const VIDEO_EXTENSIONS = ['.mp4', '.mov', '.mkv', '.webm', '.avi', '.m4v'];

export interface VideoFramesOptions {
  videos: string;
  framesPerVideo: number;
  /** Folder the aligned frames are written to (`<stem>/<frame>.png`). */
  out: string;
  /** Side of the aligned crops. */
  size: number;
  align: FaceAlignment;
  detector: Pick<FaceDetector, 'detect'>;
  log?: (line: string) => void;
}

export interface VideoFrames {
  pairs: EvalPair[];
  /** Per video: the aligned frames written (file, frame index). */
  videos: { file: string; identity: string; info: VideoInfo; frames: { file: string; index: number }[] }[];
  skipped: { file: string; reason: string }[];
}

/** `count` frame indices evenly spaced over `frames`, the first and last included. */
export function evenlySpaced(frames: number, count: number): number[] {
  if (count >= frames) return Array.from({ length: frames }, (_, i) => i);
  if (count === 1) return [Math.floor(frames / 2)];
  return Array.from({ length: count }, (_, i) => Math.round((i * (frames - 1)) / (count - 1)));
}

function largest(faces: readonly DetectedFace[]): DetectedFace | undefined {
  return faces.reduce<DetectedFace | undefined>((a, f) => (!a || f.box.width * f.box.height > a.box.width * a.box.height ? f : a), undefined);
}

export async function listVideos(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new Error(`${dir}: no such folder (--videos); check the path`);
  }
  const videos = names.filter((n) => VIDEO_EXTENSIONS.includes(path.extname(n).toLowerCase()) && !n.startsWith('.')).sort();
  if (videos.length < 2) throw new Error(`${dir}: ${videos.length} video(s) (${VIDEO_EXTENSIONS.join(' ')}); the protocol pairs frames across videos, so it needs at least 2`);
  return videos.map((n) => path.join(dir, n));
}

/** Decodes each video once, keeping only the chosen frames, and writes their aligned crops. */
export async function extractVideoFrames(o: VideoFramesOptions): Promise<VideoFrames> {
  const log = o.log ?? (() => {});
  const files = await listVideos(o.videos);
  const videos: VideoFrames['videos'] = [];
  const skipped: VideoFrames['skipped'] = [];
  for (const file of files) {
    let info: VideoInfo;
    try {
      info = probeVideo(file);
    } catch (e) {
      skipped.push({ file, reason: e instanceof Error ? e.message : String(e) });
      continue;
    }
    const wanted = new Set(evenlySpaced(info.frames, o.framesPerVideo));
    const identity = path.parse(file).name;
    const dir = path.join(o.out, identity);
    await mkdir(dir, { recursive: true });
    const frames: { file: string; index: number }[] = [];
    let k = 0;
    try {
      for await (const data of decodeFrames(info)) {
        if (wanted.has(k)) {
          const frame: RawImage = { width: info.width, height: info.height, channels: 3, data };
          const face = largest(await o.detector.detect(frame));
          if (face) {
            const out = path.join(dir, `${String(k).padStart(6, '0')}.png`);
            await writeFileAtomic(out, encodePng(alignFaceAs(frame, face.landmarks5, o.size, o.align).crop));
            frames.push({ file: out, index: k });
          }
        }
        k++;
      }
    } catch (e) {
      skipped.push({ file, reason: e instanceof Error ? e.message : String(e) });
      continue;
    }
    if (frames.length === 0) {
      skipped.push({ file, reason: 'no face in any of the chosen frames' });
      continue;
    }
    videos.push({ file, identity, info, frames });
  }
  for (const s of skipped) log(`[eval] skipped ${s.file}: ${s.reason}`);
  if (videos.length < 2) throw new Error(`${o.videos}: only ${videos.length} video(s) with a face; the protocol pairs frames across videos, so it needs at least 2`);
  const pairs: EvalPair[] = [];
  videos.forEach((target, i) => {
    const source = videos[(i + 1) % videos.length]!;
    target.frames.forEach((t, j) => {
      const s = source.frames[Math.min(j, source.frames.length - 1)]!;
      pairs.push({ source: s.file, target: t.file, sourceIdentity: source.identity, targetIdentity: target.identity });
    });
  });
  log(`[eval] ${pairs.length} pairs from ${videos.length} videos (${o.framesPerVideo} frames each, source from the next video)`);
  return { pairs, videos, skipped };
}

export interface VideoStabilityOptions {
  videos: VideoFrames['videos'];
  /** Consecutive frames per video, from its middle. */
  frames: number;
  size: number;
  align: FaceAlignment;
  detector: Pick<FaceDetector, 'detect'>;
  swap: SwapFn;
}

export interface VideoStabilityResult {
  perVideo: { file: string; stability: TemporalStability }[];
  /** Mean over videos of the ratio (swap change / target change). */
  meanRatio: number;
  meanSwapChange: number;
  meanTargetChange: number;
}

/**
 * The swap's temporal stability: `frames` consecutive frames from the middle of each video, each detected, aligned
 * and swapped (source: the first chosen frame of the next video), measured inside the face mask.
 */
export async function videoStability(o: VideoStabilityOptions): Promise<VideoStabilityResult> {
  const perVideo: VideoStabilityResult['perVideo'] = [];
  for (const [i, v] of o.videos.entries()) {
    const info = v.info;
    const start = Math.max(0, Math.floor((info.frames - o.frames) / 2));
    const source = await decodeImage(o.videos[(i + 1) % o.videos.length]!.frames[0]!.file);
    const meter = new TemporalStabilityMeter();
    let k = 0;
    for await (const data of decodeFrames(info)) {
      if (k >= start && k < start + o.frames) {
        const frame: RawImage = { width: info.width, height: info.height, channels: 3, data };
        const face = largest(await o.detector.detect(frame));
        if (!face) meter.gap();
        else {
          const aligned = alignFaceAs(frame, face.landmarks5, o.size, o.align);
          const swapped = await o.swap(source, aligned.crop);
          const mask = faceMask(face.landmarks68.map((p) => applyAffine(aligned.toCrop, p)), o.size);
          meter.add(aligned.crop, swapped, mask);
        }
      }
      // Leaving the loop ends the decoder (decodeFrames kills ffmpeg in its finally).
      if (++k >= start + o.frames) break;
    }
    perVideo.push({ file: v.file, stability: meter.result() });
  }
  const mean = (f: (s: TemporalStability) => number): number => perVideo.reduce((a, p) => a + f(p.stability), 0) / perVideo.length;
  return { perVideo, meanRatio: mean((s) => s.ratio), meanSwapChange: mean((s) => s.swapChange), meanTargetChange: mean((s) => s.targetChange) };
}
