import { crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng, readPngText, type RawImage } from './png.js';

function gradient(width: number, height: number, channels: RawImage['channels']): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 5)) & 0xff;
  return { width, height, channels, data };
}

describe('PNG codec', () => {
  it('round-trips grey, RGB and RGBA images exactly, odd sizes included', () => {
    for (const channels of [1, 3, 4] as const) {
      const img = gradient(7, 5, channels);
      const back = decodePng(encodePng(img));
      expect(back).toEqual(img);
    }
  });

  it('carries tEXt chunks', () => {
    const png = encodePng(gradient(2, 2, 3), { Software: 'faceshifter-ts 0.1.0', 'faceshifter:synthetic': 'true' });
    expect(readPngText(png)).toEqual({ Software: 'faceshifter-ts 0.1.0', 'faceshifter:synthetic': 'true' });
  });

  it('decodes every row filter type', () => {
    // A hand-built 2x2 grey PNG: row 0 uses filter 1 (Sub), row 1 uses filter 4 (Paeth).
    // Pixels wanted: [10, 30] / [20, 60]. Row 0 bytes: 10, 30−10=20. Row 1: Paeth(a=0,b=10,c=0)=10 → 20−10=10;
    // Paeth(a=20,b=30,c=10): p=40, pa=20, pb=10, pc=30 → b=30 → 60−30=30.
    const raw = Uint8Array.from([1, 10, 20, 4, 10, 30]);
    const reference = encodePng({ width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 0, 0, 0]) });
    // Swap the IDAT payload of a valid file for ours, fixing its length and CRC.
    const idat = deflateSync(raw);
    const head = reference.subarray(0, 33); // signature + IHDR
    const chunkOf = (type: string, data: Uint8Array): Buffer => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      return Buffer.concat([len, body, crc]);
    };
    const png = Buffer.concat([head, chunkOf('IDAT', idat), chunkOf('IEND', new Uint8Array(0))]);
    expect(Array.from(decodePng(png).data)).toEqual([10, 30, 20, 60]);
  });

  it('names the problem for corrupt, truncated or non-PNG input', () => {
    const png = encodePng(gradient(4, 4, 3));
    expect(() => decodePng(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 'x.png')).toThrow(/x\.png: not a PNG file/);
    expect(() => decodePng(png.subarray(0, png.length - 20), 'y.png')).toThrow(/y\.png: truncated PNG/);
    const bad = Uint8Array.from(png);
    bad[40] = bad[40]! ^ 0xff;
    expect(() => decodePng(bad, 'z.png')).toThrow(/z\.png: corrupt PNG \(CRC mismatch/);
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) })).toThrow(/5 bytes for a 2x2x3 image/);
  });
});
