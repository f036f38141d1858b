import { unzlibSync, zlibSync } from 'fflate';
import { concatChunks } from '../weights/safetensors.js';
import { crc32 } from '../weights/zip.js';

/**
 * A small PNG codec for what this project writes and reads back: 8-bit RGB/RGBA/grey images with tEXt chunks.
 * The tEXt chunks carry the synthetic-content mark that every swapped image gets (tool, checkpoint, date).
 * Pure JS (fflate for zlib), so the web app writes the same marked PNG as `yarn swap`.
 */

export interface RawImage {
  width: number;
  height: number;
  /** 1 (grey), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
  /** Row-major, interleaved, 0-255. */
  data: Uint8Array;
}

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const COLOR_TYPE: Record<RawImage['channels'], number> = { 1: 0, 3: 2, 4: 6 };

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function latin1(s: string, what: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new Error(`PNG tEXt ${what} '${s}' has a non-Latin-1 character; tEXt chunks are Latin-1.`);
    out[i] = c;
  }
  return out;
}

/** Encodes an image as PNG, with `text` as tEXt chunks (keywords 1-79 Latin-1 characters). */
export function encodePng(image: RawImage, text: Record<string, string> = {}): Uint8Array {
  const { width, height, channels, data } = image;
  if (data.length !== width * height * channels) {
    throw new Error(`encodePng: ${data.length} bytes for a ${width}x${height}x${channels} image (expected ${width * height * channels}).`);
  }
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8;
  header[9] = COLOR_TYPE[channels];
  const stride = width * channels;
  // Filter type 0 on every row: deflate does the work; per-row filter search would cost more than it saves here.
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [SIGNATURE, chunk('IHDR', header)];
  for (const [key, value] of Object.entries(text)) {
    if (key.length < 1 || key.length > 79) throw new Error(`PNG tEXt keyword '${key}' must be 1-79 characters.`);
    const k = latin1(key, 'keyword');
    const v = latin1(value, 'value');
    const body = new Uint8Array(k.length + 1 + v.length);
    body.set(k, 0);
    body.set(v, k.length + 1);
    parts.push(chunk('tEXt', body));
  }
  parts.push(chunk('IDAT', zlibSync(raw, { level: 6 })), chunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

interface Chunk {
  type: string;
  data: Uint8Array;
}

function* chunks(png: Uint8Array, source: string): Generator<Chunk> {
  for (let i = 0; i < 8; i++) {
    if (png[i] !== SIGNATURE[i]) throw new Error(`${source}: not a PNG file (bad signature).`);
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let off = 8;
  while (off + 12 <= png.length) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    if (off + 12 + len > png.length) throw new Error(`${source}: truncated PNG (chunk ${type} runs past the end).`);
    if (crc32(png.subarray(off + 4, off + 8 + len)) !== view.getUint32(off + 8 + len)) {
      throw new Error(`${source}: corrupt PNG (CRC mismatch in chunk ${type}).`);
    }
    yield { type, data: png.subarray(off + 8, off + 8 + len) };
    if (type === 'IEND') return;
    off += 12 + len;
  }
  throw new Error(`${source}: truncated PNG (no IEND chunk).`);
}

function latin1Text(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

/** Reads the tEXt chunks of a PNG, e.g. to check the synthetic-content mark. */
export function readPngText(png: Uint8Array, source = 'PNG'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of chunks(png, source)) {
    if (c.type !== 'tEXt') continue;
    const nul = c.data.indexOf(0);
    out[String.fromCharCode(...c.data.subarray(0, nul))] = latin1Text(c.data.subarray(nul + 1));
  }
  return out;
}

/**
 * Decodes 8-bit, non-interlaced PNGs of colour type grey, RGB or RGBA (what {@link encodePng} writes), with all
 * five row filters. Other PNGs (palette, 16-bit, interlaced) are an error naming the feature.
 */
export function decodePng(png: Uint8Array, source = 'PNG'): RawImage {
  let width = 0;
  let height = 0;
  let channels: RawImage['channels'] = 3;
  const idat: Uint8Array[] = [];
  for (const c of chunks(png, source)) {
    if (c.type === 'IHDR') {
      const v = new DataView(c.data.buffer, c.data.byteOffset, c.data.byteLength);
      width = v.getUint32(0);
      height = v.getUint32(4);
      const [depth, colorType, , , interlace] = [c.data[8], c.data[9], c.data[10], c.data[11], c.data[12]];
      const ch = ({ 0: 1, 2: 3, 6: 4 } as Record<number, RawImage['channels']>)[colorType!];
      if (depth !== 8 || ch === undefined || interlace !== 0) {
        throw new Error(`${source}: unsupported PNG (bit depth ${depth}, colour type ${colorType}, interlace ${interlace}); decode it with an image library.`);
      }
      channels = ch;
    } else if (c.type === 'IDAT') idat.push(c.data);
  }
  let raw: Uint8Array;
  try {
    raw = unzlibSync(concatChunks(idat));
  } catch (e) {
    throw new Error(`${source}: corrupt PNG (image data does not inflate: ${e instanceof Error ? e.message : String(e)}).`);
  }
  if (raw.length < (width * channels + 1) * height) throw new Error(`${source}: truncated PNG (image data is short).`);
  const stride = width * channels;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const o = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[o + x - channels]! : 0;
      const b = y > 0 ? out[o - stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[o - stride + x - channels]! : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`${source}: corrupt PNG (row filter ${filter}).`);
      out[o + x] = (row[x]! + pred) & 0xff;
    }
  }
  return { width, height, channels, data: out };
}
