/**
 * ffmpeg and ffprobe as Node subprocesses: which binaries, what a clip holds, its frames decoded to raw RGB through
 * a pipe, and frames encoded back through a pipe. Frames stream: the clip is never held in memory nor written out
 * frame by frame.
 *
 * The binaries come from npm (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe ship static Linux, macOS and
 * Windows builds inside the registry packages); FFMPEG_PATH / FFPROBE_PATH choose others.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, rmSync } from 'node:fs';

const require = createRequire(import.meta.url);

export interface VideoTools {
  ffmpeg: string;
  ffprobe: string;
}

function bundled(pkg: string): string | null {
  try {
    const p = (require(pkg) as { path: string }).path;
    return existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

function runs(binary: string): boolean {
  const r = spawnSync(binary, ['-version'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
  return r.status === 0;
}

let tools: VideoTools | undefined;

/**
 * The ffmpeg and ffprobe to use: FFMPEG_PATH / FFPROBE_PATH, else npm's bundled builds, else the system's. A
 * binary that does not run is one line saying how to point the variable at another.
 */
export function videoTools(): VideoTools {
  if (tools) return tools;
  const pick = (env: string, pkg: string, name: string): string => {
    const fromEnv = process.env[env];
    const candidates = fromEnv ? [fromEnv] : [bundled(pkg), name].filter((c): c is string => c !== null);
    for (const c of candidates) if (runs(c)) return c;
    throw new Error(
      fromEnv
        ? `${env}=${fromEnv}: this ${name} does not run here; point ${env} at a working ${name} binary (e.g. your system's: ${env}=$(command -v ${name}))`
        : `no working ${name}: the one from npm (${pkg}) does not run on this machine and none is on PATH; install ${name} and set ${env}=/path/to/${name}`,
    );
  };
  tools = { ffmpeg: pick('FFMPEG_PATH', '@ffmpeg-installer/ffmpeg', 'ffmpeg'), ffprobe: pick('FFPROBE_PATH', '@ffprobe-installer/ffprobe', 'ffprobe') };
  return tools;
}

/** What a clip holds, as ffprobe reports it. */
export interface VideoInfo {
  file: string;
  /** Displayed size: after the rotation the player applies. */
  width: number;
  height: number;
  /** Stored size (before rotation). */
  codedWidth: number;
  codedHeight: number;
  /**
   * The stream's rotation (0, 90, 180, 270), as ffprobe reports its display matrix (counter-clockwise degrees;
   * −90 is read as 270) or the legacy `rotate` tag; written back unchanged as the output's `rotate` tag.
   */
  rotation: number;
  /** Frames per second as a rational "num/den" (the stream's average rate) and as a number. */
  rate: string;
  fps: number;
  /** True where the nominal and average rates disagree: a variable-frame-rate clip (phones). */
  variableRate: boolean;
  /** Frame count when the container states it, else an estimate from the duration. */
  frames: number;
  frameCountExact: boolean;
  duration: number;
  codec: string;
  hasAudio: boolean;
  /** The container's comment tag (where the synthetic mark lives), if any. */
  tags: Record<string, string>;
}

function rational(r: string | undefined): number {
  if (!r) return NaN;
  const [n, d] = r.split('/').map(Number);
  return d ? n! / d : n!;
}

interface ProbeStream {
  codec_type: string;
  codec_name?: string;
  codec_tag_string?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
}

/** Reads a clip's streams with ffprobe; not a video, no video stream or 0 frames are one-line errors naming the file. */
export function probeVideo(file: string): VideoInfo {
  if (!existsSync(file)) throw new Error(`${file}: no such video file; check the path`);
  const r = spawnSync(videoTools().ffprobe, ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    const why = (r.stderr || '').trim().split('\n').pop() ?? '';
    throw new Error(`${file}: not a video ffprobe can read (${why.replace(file + ': ', '')}); pass an MP4, MOV, MKV or WebM clip`);
  }
  const doc = JSON.parse(r.stdout) as { streams?: ProbeStream[]; format?: { duration?: string; tags?: Record<string, string> } };
  const streams = doc.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video' && s.width && s.height);
  if (!v) throw new Error(`${file}: has no video stream (${streams.map((s) => s.codec_type).join(', ') || 'no streams'}); pass a video clip`);
  // A stream ffprobe can place but not name is one this ffmpeg has no decoder for (e.g. a new or proprietary codec).
  if (!v.codec_name || v.codec_name === 'unknown' || v.codec_name === 'none') {
    const tag = v.codec_tag_string;
    throw new Error(`${file}: its video codec${tag ? ` (${tag})` : ''} is one this ffmpeg cannot decode; re-encode it to H.264 (ffmpeg -i in -c:v libx264 out.mp4), or point FFMPEG_PATH/FFPROBE_PATH at an ffmpeg built with it`);
  }
  const rotationTag = Number(v.tags?.rotate ?? NaN);
  const sideRotation = v.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  // The bundled ffmpeg writes `rotate=R` as a display matrix that ffprobe reports as R (mod 360): the two are the
  // same number here, which is all that keeping a clip's rotation needs (tested on a rotated clip).
  const rotation = ((Number.isFinite(rotationTag) ? rotationTag : sideRotation ?? 0) % 360 + 360) % 360;
  const avg = rational(v.avg_frame_rate);
  const nominal = rational(v.r_frame_rate);
  const fps = Number.isFinite(avg) && avg > 0 ? avg : nominal;
  const duration = Number(v.duration ?? doc.format?.duration ?? NaN);
  const stated = Number(v.nb_frames ?? NaN);
  const frames = Number.isFinite(stated) && stated > 0 ? stated : Number.isFinite(duration) && fps > 0 ? Math.round(duration * fps) : 0;
  if (frames === 0) throw new Error(`${file}: the video stream holds no frames; pass a clip with at least one frame`);
  const swapSides = rotation === 90 || rotation === 270;
  return {
    file,
    width: swapSides ? v.height! : v.width!,
    height: swapSides ? v.width! : v.height!,
    codedWidth: v.width!,
    codedHeight: v.height!,
    rotation,
    rate: Number.isFinite(avg) && avg > 0 ? v.avg_frame_rate! : v.r_frame_rate!,
    fps,
    variableRate: Number.isFinite(avg) && Number.isFinite(nominal) && Math.abs(avg - nominal) > 0.01 * nominal,
    frames,
    frameCountExact: Number.isFinite(stated) && stated > 0,
    duration,
    codec: v.codec_name ?? 'unknown',
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
    tags: { ...(doc.format?.tags ?? {}) },
  };
}

/** The last lines ffmpeg wrote to stderr, for errors. */
function tail(lines: string[]): string {
  return lines.slice(-3).join(' | ').trim();
}

function collectStderr(child: ChildProcess): string[] {
  const lines: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter((l) => l.trim()));
    if (lines.length > 50) lines.splice(0, lines.length - 50);
  });
  return lines;
}

/**
 * The clip's frames, upright (ffmpeg applies the rotation), as RGB byte buffers of width × height × 3, one at a
 * time. Every frame is decoded (no frame is dropped or duplicated: `-vsync passthrough`). A decode error part-way
 * (a truncated file) ends the iteration with a one-line error naming the frame it stopped at.
 */
export async function* decodeFrames(info: VideoInfo): AsyncGenerator<Uint8Array> {
  const { ffmpeg } = videoTools();
  const child = spawn(ffmpeg, ['-v', 'error', '-xerror', '-i', info.file, '-map', '0:v:0', '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = collectStderr(child);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const frameBytes = info.width * info.height * 3;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  try {
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= frameBytes) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        const frame = new Uint8Array(all.subarray(0, frameBytes));
        const rest = all.subarray(frameBytes);
        pending = rest.length ? [rest] : [];
        pendingBytes = rest.length;
        index++;
        yield frame;
      }
    }
    const code = await exited;
    if (code !== 0 || pendingBytes !== 0 || stderr.some((l) => /error|invalid|corrupt/i.test(l))) {
      throw new Error(`${info.file}: the video breaks off at frame ${index} of ${info.frames}${stderr.length ? ` (ffmpeg: ${tail(stderr)})` : ''}; the file is truncated or damaged`);
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

export interface EncodeOptions {
  /** The file to write (the caller renames it into place). */
  out: string;
  /** The clip whose audio is copied and whose rate, size and rotation are kept. */
  input: VideoInfo;
  /** x264's constant rate factor (0–51, lower is better); default 18, visually lossless. */
  crf?: number;
  /** The container's comment and other metadata tags (the synthetic mark). */
  metadata: Record<string, string>;
}

/** A pipe into ffmpeg: write upright RGB frames, then close. */
export interface FrameEncoder {
  write(frame: Uint8Array): Promise<void>;
  /** Finishes the file; rejects with a one-line error if ffmpeg failed. */
  close(): Promise<void>;
  /** Stops ffmpeg at once (Ctrl-C, an error); the partial file is the caller's to remove. */
  abort(): void;
}

/**
 * The transpose that turns upright frames back into the stored orientation, so the rotation tag can be kept
 * (measured: frames stored as transpose=1 of the upright ones, tagged rotate=90, decode upright).
 */
function unrotate(rotation: number): string[] {
  if (rotation === 90) return ['-vf', 'transpose=1'];
  if (rotation === 270) return ['-vf', 'transpose=2'];
  if (rotation === 180) return ['-vf', 'hflip,vflip'];
  return [];
}

/**
 * Encodes upright RGB frames to H.264 (yuv420p) in an MP4, at the input's rate, with the input's audio streams
 * copied (not re-encoded) and its rotation kept: the frames are turned back to the stored orientation and the
 * rotate tag is written, as the input had it.
 */
export function encodeFrames(options: EncodeOptions): FrameEncoder {
  const { ffmpeg } = videoTools();
  const { input } = options;
  const crf = options.crf ?? 18;
  // This ffmpeg drops a rotate tag given while encoding; a stream-copy remux after the encode writes it.
  const encoded = input.rotation ? `${options.out}.unrotated.mp4` : options.out;
  const meta = Object.entries(options.metadata).flatMap(([k, v]) => ['-metadata', `${k}=${v}`]);
  const args = [
    '-v', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${input.width}x${input.height}`, '-framerate', input.rate, '-i', 'pipe:0',
    '-i', input.file,
    '-map', '0:v:0', '-map', '1:a?', '-c:a', 'copy',
    ...unrotate(input.rotation),
    '-c:v', 'libx264', '-crf', String(crf), '-preset', 'medium', '-pix_fmt', 'yuv420p',
    ...meta,
    '-movflags', '+faststart+use_metadata_tags', '-f', 'mp4', encoded,
  ];
  const child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr = collectStderr(child);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let failed: Error | null = null;
  child.stdin!.on('error', (e) => {
    failed ??= new Error(`ffmpeg stopped taking frames (${e.message}${stderr.length ? `; ${tail(stderr)}` : ''})`);
  });
  return {
    async write(frame) {
      if (failed) throw failed;
      if (!child.stdin!.write(frame)) await new Promise<void>((resolve) => child.stdin!.once('drain', () => resolve()));
      if (failed) throw failed;
    },
    async close() {
      child.stdin!.end();
      const code = await exited;
      if (failed) throw failed;
      if (code !== 0) throw new Error(`ffmpeg could not write ${options.out} (${tail(stderr) || `exit ${code}`})`);
      if (encoded !== options.out) {
        const r = spawnSync(ffmpeg, ['-v', 'error', '-y', '-i', encoded, '-map', '0', '-c', 'copy', '-metadata:s:v:0', `rotate=${input.rotation}`, ...meta, '-movflags', '+faststart+use_metadata_tags', '-f', 'mp4', options.out], { encoding: 'utf8' });
        rmSync(encoded, { force: true });
        if (r.status !== 0) throw new Error(`ffmpeg could not write ${options.out} (${(r.stderr || '').trim().split('\n').pop()})`);
      }
    },
    abort() {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(encoded, { force: true });
    },
  };
}
