/**
 * Short test clips made with the bundled ffmpeg from the project's own face crops: nothing is downloaded and no clip
 * is committed. Kept to a few dozen frames at 192×144 so the video tests stay fast.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { videoTools } from '../ffmpeg.js';

export const FACES = fileURLToPath(new URL('../../../../../datasets/embedded/faces/', import.meta.url));
export const FACE_A = FACES + 'face-api-sample1_f0.png';
export const FACE_B = FACES + 'human-faceid_f0.png';
export const SOURCE = FACES + 'face-api-sample2_f0.png';

function ffmpeg(args: string[]): void {
  const r = spawnSync(videoTools().ffmpeg, ['-v', 'error', '-y', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr}`);
}

const BACKGROUND = 'color=c=0x808890:s=192x144:r=25:d=2';
const TONE = 'sine=frequency=440:duration=2';

/** A still face panned and zoomed across a plain background, with a 440 Hz tone: `frames` frames at 25 fps. */
export function pannedClip(out: string, frames = 20): void {
  ffmpeg([
    '-f', 'lavfi', '-i', BACKGROUND, '-loop', '1', '-i', FACE_A, '-f', 'lavfi', '-i', TONE,
    '-filter_complex', "[1]scale=96:96[f];[0][f]overlay=x='20+t*50':y='16+t*10':shortest=1,zoompan=z='1+0.01*on':d=1:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':s=192x144:fps=25",
    '-frames:v', String(frames), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', out,
  ]);
}

/** Two faces that cross: A moves right, B moves left, B passing in front of A half-way. */
export function crossingClip(out: string, frames = 24): void {
  ffmpeg([
    '-f', 'lavfi', '-i', 'color=c=0x808890:s=256x128:r=25:d=2', '-loop', '1', '-i', FACE_A, '-loop', '1', '-i', FACE_B,
    '-filter_complex', "[1]scale=88:88[a];[2]scale=88:88[b];[0][a]overlay=x='4+t*150':y=20:shortest=1[t];[t][b]overlay=x='164-t*150':y=20:shortest=1",
    '-frames:v', String(frames), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', out,
  ]);
}

/** No face at all: a plain background with moving noise. */
export function facelessClip(out: string, frames = 10): void {
  ffmpeg(['-f', 'lavfi', '-i', 'color=c=0x336699:s=160x120:r=25:d=1', '-vf', 'noise=alls=30:allf=t', '-frames:v', String(frames), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', out]);
}


/** The panned clip stored sideways with a rotate tag that turns it upright, as phones record portrait video. */
export function rotatedClip(from: string, out: string): void {
  const sideways = `${out}.sideways.mp4`;
  ffmpeg(['-i', from, '-vf', 'transpose=1', '-c:v', 'libx264', '-crf', '12', '-pix_fmt', 'yuv420p', '-c:a', 'copy', sideways]);
  ffmpeg(['-i', sideways, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', out]);
  rmSync(sideways);
}


/** A variable-frame-rate clip: frames at irregular times (as phones write them). */
export function variableRateClip(from: string, out: string): void {
  ffmpeg(['-i', from, '-vf', "setpts='if(lt(N,10),N/25,(N+5)/25)/TB'", '-vsync', 'vfr', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-an', out]);
}

/** A second person's face sliding slowly across another background: `frames` frames at 25 fps, no audio. */
export function slidingClip(face: string, out: string, frames = 20): void {
  ffmpeg([
    '-f', 'lavfi', '-i', 'color=c=0x908070:s=192x144:r=25:d=2', '-loop', '1', '-i', face,
    '-filter_complex', "[1]scale=100:100[f];[0][f]overlay=x='40+t*20':y=20:shortest=1",
    '-frames:v', String(frames), '-c:v', 'libx264', '-pix_fmt', 'yuv420p', out,
  ]);
}
