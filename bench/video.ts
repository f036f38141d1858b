/**
 * Video swapping speed (`yarn bench --figures videoSwapFps`): `yarn swap --video` on a clip made here with the
 * bundled ffmpeg (the video tests' clip: a face panned and zoomed across a plain background, 192×144, 25 fps), with randomly initialised AEI-Nets:
 * the tiny preset at 64² and the paper preset at 256² (c_id 128, the face-api identity). The time per frame is
 * split into the stages the command takes, both passes together (decode is counted twice: once per pass), so the
 * slow stage is visible.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AEINet, resolveModelConfig, saveCheckpoint, type ModelConfig } from '@faceshifter/core/node';
import { FaceSwapper, swapVideo, type StageSeconds } from '@faceshifter/eval';
import { pannedClip } from '../packages/eval/src/video/test_utils/clips.js';

const FACES = fileURLToPath(new URL('../datasets/embedded/faces/', import.meta.url));

export interface VideoSwapResult {
  model: 'aei-tiny 64²' | 'paper 256²';
  /** `--detect-every`: the detector every N frames, landmarks only in between. */
  detectEvery: number;
  frames: number;
  fps: number;
  /** Milliseconds per frame, per stage. */
  msPerFrame: Record<keyof StageSeconds, number> & { total: number };
}

async function benchOne(model: VideoSwapResult['model'], config: ModelConfig, frames: number, detectEvery: number, dir: string): Promise<VideoSwapResult> {
  const checkpoint = path.join(dir, model.startsWith('aei') ? 'tiny' : 'paper');
  const aei = new AEINet(config, { seed: 1 });
  await saveCheckpoint(checkpoint, { config, networks: { aei } });
  aei.dispose();
  const clip = path.join(dir, `clip-${frames}.mp4`);
  pannedClip(clip, frames);
  const swapper = await FaceSwapper.load({ checkpoint });
  try {
    // The first frames pay for kernel compilation and weight upload: a short warm-up clip first.
    const warm = path.join(dir, 'warm.mp4');
    pannedClip(warm, 2);
    await swapVideo({ video: warm, source: FACES + 'face-api-sample2_f0.png', out: path.join(dir, 'warm-out.mp4'), progress: false }, swapper);
    const r = await swapVideo({ video: clip, source: FACES + 'face-api-sample2_f0.png', out: path.join(dir, 'out.mp4'), progress: false, detectEvery }, swapper);
    const total = r.seconds.track + r.seconds.swap;
    const per = (s: number): number => Math.round((s * 1000 * 10) / r.frames) / 10;
    const stages = Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, per(v)])) as Record<keyof StageSeconds, number>;
    return { model, detectEvery, frames: r.frames, fps: Math.round((r.frames / total) * 100) / 100, msPerFrame: { ...stages, total: per(total) } };
  } finally {
    swapper.dispose();
  }
}

export async function benchVideoSwap(options: { frames?: number } = {}): Promise<VideoSwapResult[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'faceshifter-bench-video-'));
  try {
    const frames = options.frames ?? 20;
    return [
      await benchOne('aei-tiny 64²', resolveModelConfig({ preset: 'tiny', resolution: 64 }), frames, 1, dir),
      await benchOne('aei-tiny 64²', resolveModelConfig({ preset: 'tiny', resolution: 64 }), frames, 5, dir),
      await benchOne('paper 256²', resolveModelConfig({ preset: 'paper', cId: 128 }), Math.max(2, Math.round(frames / 2)), 1, dir),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
