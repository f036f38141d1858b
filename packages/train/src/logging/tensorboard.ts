import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
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
