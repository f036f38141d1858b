import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32c, maskedCrc32c } from './crc32c.js';
import { TensorBoardWriter } from './tensorboard.js';

// A reader written independently of the writer, from the TFRecord and protobuf wire-format specs.
type Field = { field: number; wire: number; value: bigint | number | Uint8Array };
function decodeProto(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ field, wire, value: varint() });
    else if (wire === 1) fields.push({ field, wire, value: view.getFloat64((i += 8) - 8, true) });
    else if (wire === 5) fields.push({ field, wire, value: view.getFloat32((i += 4) - 4, true) });
    else if (wire === 2) {
      const len = Number(varint());
      fields.push({ field, wire, value: buf.subarray(i, (i += len)) });
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return fields;
}
const get = (fields: Field[], n: number): Field['value'] | undefined => fields.find((f) => f.field === n)?.value;
const text = (v: Field['value'] | undefined): string => new TextDecoder().decode(v as Uint8Array);

function readRecords(path: string): Uint8Array[] {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: Uint8Array[] = [];
  let off = 0;
  while (off < buf.length) {
    const len = Number(view.getBigUint64(off, true));
    expect(view.getUint32(off + 8, true)).toBe(maskedCrc32c(new Uint8Array(buf.buffer, buf.byteOffset + off, 8)));
    const data = new Uint8Array(buf.buffer, buf.byteOffset + off + 12, len);
    expect(view.getUint32(off + 12 + len, true)).toBe(maskedCrc32c(data));
    records.push(data);
    off += 16 + len;
  }
  return records;
}

describe('crc32c', () => {
  it('matches the standard check value and the RFC 3720 vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });
});

describe('TensorBoardWriter', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a file_version header, then scalar, image and text summaries as valid TFRecords', () => {
    dir = mkdtempSync(join(tmpdir(), 'tb-'));
    const w = new TensorBoardWriter(dir);
    w.scalar('loss/id', 0.25, 3);
    w.scalar('lr', 4e-4, 2 ** 40); // steps are int64
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    w.image('samples', png, { height: 2, width: 3, channels: 3 }, 7);
    w.text('config', '```yaml\nseed: 1\n```', 0);
    w.close();

    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\./);
    const events = readRecords(join(dir, files[0]!)).map(decodeProto);
    expect(events).toHaveLength(5);
    expect(text(get(events[0]!, 3))).toBe('brain.Event:2');

    const value = (e: Field[]): Field[] => decodeProto(get(decodeProto(get(e, 5) as Uint8Array), 1) as Uint8Array);
    expect(get(events[1]!, 2)).toBe(3n);
    expect(text(get(value(events[1]!), 1))).toBe('loss/id');
    expect(get(value(events[1]!), 2)).toBeCloseTo(0.25, 7);
    expect(get(events[2]!, 2)).toBe(2n ** 40n);

    const image = decodeProto(get(value(events[3]!), 4) as Uint8Array);
    expect([get(image, 1), get(image, 2), get(image, 3)]).toEqual([2n, 3n, 3n]);
    expect(Array.from(get(image, 4) as Uint8Array)).toEqual(Array.from(png));

    const textValue = value(events[4]!);
    const plugin = decodeProto(get(decodeProto(get(textValue, 9) as Uint8Array), 1) as Uint8Array);
    expect(text(get(plugin, 1))).toBe('text');
    const tensor = decodeProto(get(textValue, 8) as Uint8Array);
    expect(get(tensor, 1)).toBe(7n);
    expect(text(get(tensor, 8))).toContain('seed: 1');
  });

  it('refuses to write after close', () => {
    dir = mkdtempSync(join(tmpdir(), 'tb-'));
    const w = new TensorBoardWriter(dir);
    w.close();
    expect(() => w.scalar('x', 1, 0)).toThrow(/is closed/);
  });
});
