import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatChunks, encodeSafetensors, parseSafetensors, type SafetensorsTensor } from './safetensors.js';
import { readSafetensors, writeSafetensors } from '../node/safetensors_fs.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fs-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file made of a raw header object and a data section, for malformed-file cases the writer refuses to make. */
function rawFile(header: unknown, dataBytes: number, headerText?: string): Uint8Array {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  return out;
}

function bytesOf(a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

describe('safetensors', () => {
  // Bit patterns chosen to catch lossy paths: NaN payloads, -0, denormals, extreme values.
  const f32 = new Float32Array(new Uint32Array([0x7fc00001, 0x80000000, 0x00000001, 0x7f7fffff, 0x3f800000, 0xbf000000]).buffer);
  const f64 = new Float64Array([Math.PI, -0, Number.MIN_VALUE, Number.MAX_VALUE, NaN, 1e-300]);
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x7e00]);
  const bf16 = new Uint16Array([0x3f80, 0xc000, 0x0001, 0x7f7f, 0x7f80, 0x8000]);
  const i64 = new BigInt64Array([0n, -1n, 9007199254740993n, -(2n ** 63n), 2n ** 63n - 1n]);
  const i32 = new Int32Array([0, -1, 2147483647, -2147483648, 42, 7]);
  const tensors: [string, SafetensorsTensor][] = [
    ['a.f32', { dtype: 'F32', shape: [2, 3], data: f32 }],
    ['b.f64', { dtype: 'F64', shape: [3, 2], data: f64 }],
    ['c.f16', { dtype: 'F16', shape: [2, 2, 2], data: f16 }],
    ['d.bf16', { dtype: 'BF16', shape: [6], data: bf16 }],
    ['e.i64', { dtype: 'I64', shape: [5], data: i64 }],
    ['f.i32', { dtype: 'I32', shape: [1, 6], data: i32 }],
    ['g.scalar', { dtype: 'I64', shape: [], data: new BigInt64Array([123n]) }],
    ['h.empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
  ];

  it('round-trips every dtype bit for bit, with metadata, through an atomic write', async () => {
    const file = path.join(dir, 'all.safetensors');
    await writeSafetensors(file, tensors, { format: 'pt', note: 'ünïcode ✓' });
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    const read = await readSafetensors(file);
    expect(read.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect([...read.tensors.keys()]).toEqual(tensors.map(([n]) => n));
    for (const [name, t] of tensors) {
      const e = read.tensors.get(name)!;
      expect(e.dtype).toBe(t.dtype);
      expect(e.shape).toEqual(t.shape);
      expect(bytesOf(e.raw()).equals(bytesOf(t.data))).toBe(true);
      expect(e.raw().constructor).toBe(t.data.constructor);
    }
    // Header padded with spaces to 8 bytes, so the data section (and every F64/I64 view) is aligned.
    const bytes = await readFile(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    expect(bytes.subarray(8, 8 + n).toString('utf8')).toMatch(/^\{.*\} *$/s);
  });

  it('gives zero-copy float32 views of F32 tensors', () => {
    const buf = concatChunks(encodeSafetensors(tensors));
    const e = parseSafetensors(buf).tensors.get('a.f32')!;
    expect(e.toFloat32().buffer).toBe(buf.buffer);
  });

  it('converts F16, BF16, F64, I32 and I64 to float32 exactly where representable', () => {
    const read = parseSafetensors(concatChunks(encodeSafetensors(tensors)));
    // f16: 1, -2, smallest denormal 2^-24, largest normal 65504, +inf, -inf, -0, NaN.
    const h = read.tensors.get('c.f16')!.toFloat32();
    expect(Array.from(h.subarray(0, 7))).toEqual([1, -2, 2 ** -24, 65504, Infinity, -Infinity, -0]);
    expect(Object.is(h[6], -0)).toBe(true);
    expect(Number.isNaN(h[7])).toBe(true);
    // bf16: the top 16 bits of a float32.
    const b = read.tensors.get('d.bf16')!.toFloat32();
    expect(Array.from(b)).toEqual([1, -2, new Float32Array(new Uint32Array([0x00010000]).buffer)[0], new Float32Array(new Uint32Array([0x7f7f0000]).buffer)[0], Infinity, -0]);
    expect(Array.from(read.tensors.get('f.i32')!.toFloat32())).toEqual([0, -1, 2147483648, -2147483648, 42, 7]);
    expect(Array.from(read.tensors.get('g.scalar')!.toFloat32())).toEqual([123]);
    expect(read.tensors.get('b.f64')!.toFloat32()[0]).toBe(Math.fround(Math.PI));
  });

  it('reads tensors at offsets misaligned for their element size (copying them)', () => {
    // A 1-byte-padded header puts the data section at an odd byte, as a foreign writer might.
    const header = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const json = JSON.stringify(header) + ' ';
    const file = rawFile(null, 8, json.length % 2 === 0 ? json + ' ' : json);
    const dataStart = file.length - 8;
    Buffer.from(new Float32Array([1.5, -2.25]).buffer).copy(Buffer.from(file.buffer, file.byteOffset), dataStart);
    expect(dataStart % 4).not.toBe(0);
    expect(Array.from(parseSafetensors(file).tensors.get('x')!.toFloat32())).toEqual([1.5, -2.25]);
  });

  describe('malformed files name the file and the tensor', () => {
    const good = concatChunks(encodeSafetensors([['w', { dtype: 'F32', shape: [4], data: new Float32Array([1, 2, 3, 4]) }]]));

    it('truncated before the length prefix', () => {
      expect(() => parseSafetensors(good.subarray(0, 5), 'm.safetensors')).toThrow(/^m\.safetensors: truncated: 5 bytes/);
    });
    it('truncated inside the header', () => {
      expect(() => parseSafetensors(good.subarray(0, 20), 'm.safetensors')).toThrow(/^m\.safetensors: truncated: the header claims \d+ bytes but only 12 follow/);
    });
    it('truncated inside the data', () => {
      expect(() => parseSafetensors(good.subarray(0, good.length - 3), 'm.safetensors')).toThrow(
        "m.safetensors: tensor 'w': data_offsets [0,16] run past the data section (13 bytes): the file is truncated or the header is corrupt",
      );
    });
    it('absurd header length', () => {
      const b = Buffer.from(good);
      b.writeBigUInt64LE(2n ** 40n, 0);
      expect(() => parseSafetensors(b, 'm.safetensors')).toThrow(/^m\.safetensors: header length 1099511627776 exceeds/);
    });
    it('bad header JSON', () => {
      expect(() => parseSafetensors(rawFile(null, 0, '{"w": {'), 'm.safetensors')).toThrow(/^m\.safetensors: header is not valid UTF-8 JSON/);
      expect(() => parseSafetensors(rawFile([1, 2], 0), 'm.safetensors')).toThrow('m.safetensors: header is not a JSON object');
    });
    it('offsets out of range', () => {
      const f = rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 8);
      expect(() => parseSafetensors(f, 'm.safetensors')).toThrow("m.safetensors: tensor 'w': data_offsets [8,16] run past the data section (8 bytes)");
    });
    it('offsets that disagree with the shape', () => {
      const f = rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8);
      expect(() => parseSafetensors(f, 'm.safetensors')).toThrow("m.safetensors: tensor 'w': data_offsets [0,8] span 8 bytes but F32 [3] needs 12");
    });
    it('malformed offsets and shapes', () => {
      const f = rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8);
      expect(() => parseSafetensors(f, 'm.safetensors')).toThrow("m.safetensors: tensor 'w': data_offsets [8,0] is not [begin, end]");
      const g = rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8);
      expect(() => parseSafetensors(g, 'm.safetensors')).toThrow("m.safetensors: tensor 'w': shape [-2] is not a list of non-negative integers");
    });
    it('overlapping offsets', () => {
      const f = rawFile(
        { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
        12,
      );
      expect(() => parseSafetensors(f, 'm.safetensors')).toThrow("m.safetensors: tensors 'a' [0,8] and 'b' [4,12] overlap");
    });
    it('unknown and unsupported dtypes', () => {
      const f = rawFile({ w: { dtype: 'F33', shape: [2], data_offsets: [0, 8] } }, 8);
      expect(() => parseSafetensors(f, 'm.safetensors')).toThrow(
        `m.safetensors: tensor 'w': unknown dtype "F33" (supported: F64, F32, F16, BF16, I64, I32)`,
      );
      const g = rawFile({ w: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, 2);
      expect(() => parseSafetensors(g, 'm.safetensors')).toThrow(`m.safetensors: tensor 'w': unsupported dtype "U8"`);
    });
    it('bad metadata', () => {
      const f = rawFile({ __metadata__: { step: 3 } }, 0);
      expect(() => parseSafetensors(f, 'm.safetensors')).toThrow('m.safetensors: __metadata__.step is not a string');
    });
    it('a missing file, by path', async () => {
      const file = path.join(dir, 'nope.safetensors');
      await expect(readSafetensors(file)).rejects.toThrow(`${file}: no such file`);
    });
    it('a truncated file on disk, by path', async () => {
      const file = path.join(dir, 'short.safetensors');
      await writeFile(file, good.subarray(0, good.length - 1));
      await expect(readSafetensors(file)).rejects.toThrow(`${file}: tensor 'w': data_offsets [0,16] run past`);
    });
  });

  it('refuses to write data that does not match its dtype or shape', () => {
    expect(() => encodeSafetensors([['w', { dtype: 'F32', shape: [3], data: new Float32Array(4) }]], {}, 'o.safetensors')).toThrow(
      "o.safetensors: tensor 'w': shape [3] needs 3 elements, data has 4",
    );
    expect(() => encodeSafetensors([['w', { dtype: 'F64', shape: [4], data: new Float32Array(4) }]], {}, 'o.safetensors')).toThrow(
      "o.safetensors: tensor 'w': data is a Float32Array, which cannot hold F64",
    );
  });
});
