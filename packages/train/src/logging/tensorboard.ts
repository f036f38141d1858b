import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { maskedCrc32c } from './crc32c.js';
import { ProtoWriter } from './protobuf.js';

/**
 * Writes TensorBoard event files (TFRecord of tensorflow.Event protobufs) without TensorFlow or Python:
 * scalars, PNG images and text. Open the run directory with `tensorboard --logdir runs/`.
 *
 * Field numbers follow tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto.
 */
export class TensorBoardWriter {
  readonly path: string;
  private fd: number | null;

  constructor(logDir: string, options: { fileSuffix?: string } = {}) {
    mkdirSync(logDir, { recursive: true });
    const seconds = Math.floor(Date.now() / 1000);
    this.path = join(logDir, `events.out.tfevents.${seconds}.${hostname()}${options.fileSuffix ?? ''}`);
    // 'a': a resumed run that lands in the same second appends rather than truncating history.
    this.fd = openSync(this.path, 'a');
    this.writeEvent(new ProtoWriter().double(1, Date.now() / 1000).string(3, 'brain.Event:2'));
  }

  /** A scalar under `tag` (e.g. 'loss/id') at `step`. */
  scalar(tag: string, value: number, step: number, wallTime?: number): void {
    const v = new ProtoWriter().string(1, tag).float(2, value);
    this.writeSummary(new ProtoWriter().message(1, v), step, wallTime);
  }

  /** An image under `tag`, given as an encoded PNG (or JPEG) and its size. */
  image(tag: string, encoded: Uint8Array, size: { height: number; width: number; channels: number }, step: number): void {
    const img = new ProtoWriter().int(1, size.height).int(2, size.width).int(3, size.channels).bytes(4, encoded);
    const v = new ProtoWriter().string(1, tag).message(4, img);
    this.writeSummary(new ProtoWriter().message(1, v), step);
  }

  /** Markdown text under `tag`, shown in TensorBoard's Text tab (e.g. the resolved config of a run). */
  text(tag: string, markdown: string, step: number): void {
    const pluginData = new ProtoWriter().string(1, 'text');
    const metadata = new ProtoWriter().message(1, pluginData);
    const DT_STRING = 7;
    const shape = new ProtoWriter().message(2, new ProtoWriter().int(1, 1)); // one dimension of size 1
    const tensor = new ProtoWriter().int(1, DT_STRING).message(2, shape).string(8, markdown);
    const v = new ProtoWriter().string(1, tag).message(9, metadata).message(8, tensor);
    this.writeSummary(new ProtoWriter().message(1, v), step);
  }

  /**
   * A SessionLog START event at `step`: the run (re)starts here. TensorBoard then drops every event it already
   * read with a step >= `step` (EventAccumulator._CheckForRestartAndMaybePurge), which is how a resumed run
   * replaces what the crashed one logged after its checkpoint. Written at the first step of a resumed run.
   */
  sessionStart(step: number): void {
    const SESSION_LOG_START = 1;
    this.writeEvent(new ProtoWriter().double(1, Date.now() / 1000).int(2, step).message(7, new ProtoWriter().int(1, SESSION_LOG_START)));
    this.flush();
  }

  /** Forces written events to disk, so a crash loses nothing already logged. */
  flush(): void {
    if (this.fd !== null) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }

  private writeSummary(summary: ProtoWriter, step: number, wallTime = Date.now() / 1000): void {
    this.writeEvent(new ProtoWriter().double(1, wallTime).int(2, step).message(5, summary));
  }

  private writeEvent(event: ProtoWriter): void {
    if (this.fd === null) throw new Error(`TensorBoardWriter: ${this.path} is closed.`);
    writeSync(this.fd, encodeRecord(event.finish()));
  }
}

/** One TFRecord: u64 length, masked CRC of the length, the data, masked CRC of the data (all little-endian). */
export function encodeRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** One decoded event record: the fields the step history needs, and the record's bytes to copy it unchanged. */
export interface EventRecord {
  wallTime: number;
  step: number;
  /** Which member of Event's `what` is set. */
  kind: 'fileVersion' | 'summary' | 'sessionLog' | 'other';
  /** SessionLog.status when kind is sessionLog (1 = START). */
  sessionStatus?: number;
  /** Summary value tags when kind is summary. */
  tags: string[];
  /** The simple_value of each tag (scalars), undefined for images and texts. */
  values: (number | undefined)[];
  /** The whole TFRecord (length, CRCs and data). */
  record: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

/** Fields of one protobuf message: number -> list of [wire type, value or bytes]. */
function protoFields(buf: Uint8Array): Map<number, (bigint | Uint8Array | number)[]> {
  const fields = new Map<number, (bigint | Uint8Array | number)[]>();
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  while (pos < buf.length) {
    let key: bigint;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: bigint | Uint8Array | number;
    if (wire === 0) [value, pos] = readVarint(buf, pos);
    else if (wire === 1) {
      value = view.getFloat64(pos, true);
      pos += 8;
    } else if (wire === 5) {
      value = view.getFloat32(pos, true);
      pos += 4;
    } else if (wire === 2) {
      let len: bigint;
      [len, pos] = readVarint(buf, pos);
      value = buf.subarray(pos, pos + Number(len));
      pos += Number(len);
    } else throw new Error(`unsupported wire type ${wire}`);
    if (pos > buf.length) throw new Error('truncated field');
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

/**
 * Reads the events of one event file in order. A torn record at the end (a crash mid-write) or a record whose CRC
 * does not match ends the list, as TensorBoard's reader stops there.
 */
export function readEventFile(file: string): EventRecord[] {
  const buf = new Uint8Array(readFileSync(file));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: EventRecord[] = [];
  let pos = 0;
  while (pos + 12 <= buf.length) {
    const len = Number(view.getBigUint64(pos, true));
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(buf.subarray(pos, pos + 8))) break;
    if (pos + 12 + len + 4 > buf.length) break;
    const data = buf.subarray(pos + 12, pos + 12 + len);
    if (view.getUint32(pos + 12 + len, true) !== maskedCrc32c(data)) break;
    const f = protoFields(data);
    const summary = f.get(5)?.[0] as Uint8Array | undefined;
    const session = f.get(7)?.[0] as Uint8Array | undefined;
    const values = summary ? (protoFields(summary).get(1) ?? []).map((v) => protoFields(v as Uint8Array)) : [];
    const tags = values.map((v) => new TextDecoder().decode((v.get(1)?.[0] as Uint8Array | undefined) ?? new Uint8Array()));
    out.push({
      wallTime: (f.get(1)?.[0] as number | undefined) ?? 0,
      step: Number((f.get(2)?.[0] as bigint | undefined) ?? 0n),
      kind: f.has(3) ? 'fileVersion' : summary ? 'summary' : session ? 'sessionLog' : 'other',
      sessionStatus: session ? Number((protoFields(session).get(1)?.[0] as bigint | undefined) ?? 0n) : undefined,
      tags,
      values: values.map((v) => v.get(2)?.[0] as number | undefined),
      record: buf.slice(pos, pos + 12 + len + 4),
    });
    pos += 12 + len + 4;
  }
  return out;
}

/** The event files of a log directory, in the order TensorBoard reads them (by name). */
export function eventFiles(logDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(logDir);
  } catch {
    return [];
  }
  return names.filter((n) => basename(n).includes('tfevents')).sort().map((n) => join(logDir, n));
}

/**
 * Rewrites the event files of `logDir` without the summaries logged after `step` (and without a torn last record),
 * so that a TensorBoard started after a resume sees one history whatever its purge settings. Each file is replaced
 * atomically; files with nothing to drop are left untouched.
 */
export function truncateEventFiles(logDir: string, step: number): void {
  // What a crash during an earlier rewrite left (the event file itself was still whole then).
  for (const n of readdirSync(logDir)) if (/^\.events-rewrite-\d+\.tmp$/.test(n)) rmSync(join(logDir, n), { force: true });
  for (const file of eventFiles(logDir)) {
    const size = readFileSync(file).byteLength;
    const events = readEventFile(file);
    const kept = events.filter((e) => e.kind === 'fileVersion' || e.step <= step);
    const keptBytes = kept.reduce((n, e) => n + e.record.byteLength, 0);
    if (keptBytes === size) continue;
    // Not named *tfevents*: a leftover of a crash here must not be read by TensorBoard as an event file.
    const tmp = join(logDir, `.events-rewrite-${process.pid}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      for (const e of kept) writeSync(fd, e.record);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }
}
